"""Property-based fuzzing: no generated input gives a 5xx.

Hypothesis generates the fields of ``POST /api/artworks/``, ``POST
/api/preview/`` and the upload form (``POST /upload/``): style names, the
``params`` JSON (huge and deeply nested numbers included), per-parameter page
fields, photo ids, and image bytes that are random, truncated or a real small
photo. Every answer must be a deliberate one (2xx, 3xx or 4xx).
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import processing
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

SMALL_JPEG = image_bytes("JPEG", 24, 16)
SMALL_PNG = image_bytes("PNG", 16, 12)

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    numbers,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
style_names = st.one_of(st.sampled_from(list(processing.STYLES)), st.text(max_size=30))
param_names = st.one_of(
    st.sampled_from(
        sorted({p.name for s in processing.STYLES.values() for p in s.params})
    ),
    st.text(max_size=10),
)


def _params_text():
    well_formed = st.dictionaries(
        style_names, st.dictionaries(param_names, json_values, max_size=4), max_size=3
    ).map(json.dumps)
    nested = st.integers(min_value=1, max_value=60000).map(lambda n: "[" * n + "]" * n)
    giant = st.integers(min_value=300, max_value=6000).map(
        lambda n: json.dumps({"oil": {"size": 0}}).replace("0", "9" * n)
    )
    return st.one_of(
        well_formed, nested, giant, st.text(max_size=300), json_values.map(json.dumps)
    )


image_data = st.one_of(
    st.just(SMALL_JPEG),
    st.just(SMALL_PNG),
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=len(SMALL_JPEG) - 1).map(
        lambda n: SMALL_JPEG[:n]
    ),
)


def _form(draw_styles, params, data, name):
    fields: dict = {"style": draw_styles}
    if params is not None:
        fields["params"] = params
    if data is not None:
        fields["image"] = SimpleUploadedFile(name, data, "image/jpeg")
    return fields


FUZZ = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@pytest.fixture(autouse=True)
def generous_budgets(settings):
    settings.STUDIO_UPLOAD_RATE = 100_000
    settings.STUDIO_PREVIEW_RATE = 100_000


@FUZZ
@given(
    styles=st.lists(style_names, max_size=3),
    params=st.one_of(st.none(), _params_text()),
    data=st.one_of(st.none(), image_data),
    # The test client refuses names Django would sanitise ("/", ".."), so
    # names are drawn from characters a multipart upload keeps.
    name=st.text(alphabet="abcxyz.-_ 0189é中", max_size=40),
    photo=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)),
)
def test_api_artworks_never_5xx(owner_client, styles, params, data, name, photo):
    fields = _form(styles, params, data, name or "x")
    if photo is not None and data is None:
        fields["photo"] = photo
    response = owner_client.post("/api/artworks/", fields)
    assert response.status_code < 500, response.content[:300]


@FUZZ
@given(
    style=style_names,
    params=st.one_of(st.none(), _params_text()),
    data=st.one_of(st.none(), image_data),
    photo=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)),
)
def test_api_preview_never_5xx(owner_client, style, params, data, photo):
    fields = _form(style, params, data, "p.jpg")
    if photo is not None:
        fields["photo"] = photo
    response = owner_client.post("/api/preview/", fields)
    assert response.status_code < 500, response.content[:300]


@FUZZ
@given(
    styles=st.lists(style_names, max_size=3),
    fields=st.dictionaries(
        st.builds(lambda s, p: f"param:{s}:{p}", style_names, param_names),
        st.text(max_size=40),
        max_size=6,
    ),
    data=st.one_of(st.none(), image_data),
)
def test_upload_form_never_5xx(owner_client, styles, fields, data):
    body = {**_form(styles, None, data, "photo.jpg"), **fields}
    response = owner_client.post("/upload/", body)
    assert response.status_code < 500, response.content[:300]
