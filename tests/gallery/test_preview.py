"""Live preview endpoint and engine-rendered style samples."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

import processing
from gallery import preview, services
from gallery.services import Recipe
from tests.conftest import image_bytes, upload_file

pytestmark = pytest.mark.django_db

URL = "/api/preview/"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _post(client, style="oil", params=None, **data):
    if "image" not in data and "photo" not in data:
        data["image"] = upload_file(image_bytes("JPEG", 1600, 1200))
    payload = {"style": style, **data}
    if params is not None:
        payload["params"] = json.dumps(params)
    return client.post(URL, payload)


def _decode(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def test_preview_is_a_small_jpeg_of_the_upload(owner_client):
    response = _post(owner_client, params={"size": 3})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    image = _decode(response)
    assert image.format == "JPEG" and image.size == (512, 384)
    assert response["X-Preview-Cache"] == "miss"


def test_portrait_and_panorama_keep_the_long_side_under_512(owner_client):
    for size, expected in (((600, 1800), (171, 512)), ((2400, 300), (512, 64))):
        upload = upload_file(image_bytes("PNG", *size), "p.png", "image/png")
        image = _decode(_post(owner_client, style="pencil", image=upload))
        assert max(image.size) == 512 and image.size == pytest.approx(expected, abs=1)


def test_small_photo_is_not_upscaled(owner_client):
    upload = upload_file(image_bytes("JPEG", 200, 150))
    assert _decode(_post(owner_client, image=upload)).size == (200, 150)


def test_same_recipe_is_cached_and_parameters_change_the_pixels(owner_client):
    data = image_bytes("JPEG", 800, 600)
    first = _post(owner_client, params={"size": 2}, image=upload_file(data))
    again = _post(owner_client, params={"size": 2}, image=upload_file(data))
    other = _post(owner_client, params={"size": 9}, image=upload_file(data))
    assert (first["X-Preview-Cache"], again["X-Preview-Cache"]) == ("miss", "hit")
    assert again.content == first.content
    assert other["X-Preview-Cache"] == "miss" and other.content != first.content


def test_preview_cache_never_reveals_another_users_photo(owner_client, other_client):
    data = image_bytes("JPEG", 320, 240)
    assert _post(owner_client, image=upload_file(data))["X-Preview-Cache"] == "miss"
    twin = _post(other_client, image=upload_file(data))
    assert twin.status_code == 200 and twin["X-Preview-Cache"] == "miss"


def test_preview_matches_the_engine_on_the_scaled_photo(owner_client):
    data = image_bytes("PNG", 640, 480)
    response = _post(
        owner_client,
        style="cartoon",
        params={"levels": 4},
        image=upload_file(data, "p.png", "image/png"),
    )
    small = processing.make_thumbnail(processing.decode(data), 512)
    params = processing.validate_params("cartoon", {"levels": 4})
    expected = processing.render(small, "cartoon", **params)
    got = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert got.shape == expected.shape
    # JPEG at quality 85: close, not equal.
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 6


def test_preview_of_a_stored_photo_by_id(owner, owner_client, other_client, queue):
    upload = upload_file(image_bytes("JPEG", 1024, 768))
    (artwork,) = services.artworks_create(
        owner, upload, processing.inspect(upload), [Recipe("oil", {"size": 7})]
    )
    response = _post(owner_client, style="watercolor", photo=artwork.photo_id)
    assert response.status_code == 200 and _decode(response).size == (512, 384)
    # The small source is cached: later slider moves do not read storage.
    default_storage.delete(artwork.photo.original.name)
    moved = _post(
        owner_client,
        style="watercolor",
        params={"sigma_r": 0.2},
        photo=artwork.photo_id,
    )
    assert moved.status_code == 200 and moved["X-Preview-Cache"] == "miss"
    # Someone else's photo id reads like a missing one.
    refused = _post(other_client, style="watercolor", photo=artwork.photo_id)
    assert refused.status_code == 400
    assert refused.json() == {"error": "No such photo.", "field": "photo"}


@pytest.mark.parametrize(
    ("data", "field", "needle"),
    [
        ({"style": "nope"}, "style", "Unknown style"),
        ({"style": "oil", "params": "not json"}, "params", "JSON object"),
        ({"style": "oil", "params": "[1]"}, "params", "JSON object"),
        ({"style": "oil", "params": '{"size": 99}'}, "params", "size must be between"),
        ({"style": "oil", "params": '{"brush": 3}'}, "params", "Unknown parameter"),
        ({"style": "oil", "photo": "abc"}, "photo", "whole number"),
    ],
)
def test_bad_input_is_a_clear_400(owner_client, data, field, needle):
    data = {**data, "image": upload_file()}
    response = owner_client.post(URL, data)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and needle in body["error"]


def test_photo_and_image_are_exclusive_and_one_is_needed(owner_client):
    neither = owner_client.post(URL, {"style": "oil"})
    assert neither.status_code == 400
    assert neither.json()["error"] == "Send either a photo id or an image."
    both = owner_client.post(URL, {"style": "oil", "photo": 1, "image": upload_file()})
    assert both.status_code == 400


def test_unreadable_image_is_refused(owner_client):
    response = owner_client.post(
        URL, {"style": "oil", "image": upload_file(b"not an image at all", "x.jpg")}
    )
    assert response.status_code == 400 and response.json()["field"] == "image"


def test_anonymous_and_get_are_refused(owner_client):
    from django.test import Client

    anonymous = Client().post(URL, {"style": "oil", "image": upload_file()})
    assert anonymous.status_code == 401
    assert owner_client.get(URL).status_code == 405


def test_rate_limit_per_user_answers_429_with_retry_after(
    steady_rate_window, settings, owner_client, other_client
):
    settings.STUDIO_PREVIEW_RATE = 2
    small = image_bytes("JPEG", 64, 48)
    for _ in range(2):
        assert _post(owner_client, image=upload_file(small)).status_code == 200
    limited = _post(owner_client, image=upload_file(small))
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many previews" in limited.json()["error"]
    # The budget is per user.
    assert _post(other_client, image=upload_file(small)).status_code == 200


# Style samples ---------------------------------------------------------------


@pytest.mark.parametrize("slug", list(processing.STYLES))
def test_style_sample_is_rendered_by_the_engine(client, media_root, slug):
    response = client.get(reverse("gallery:style_sample", args=[slug]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert "public" in response["Cache-Control"]
    spec = processing.STYLES[slug]
    expected = processing.encode(
        processing.render(preview.sample_scene(), slug, **spec.defaults()), "jpeg", 85
    )
    assert response.content == expected
    assert Image.open(io.BytesIO(response.content)).size == preview.SAMPLE_SIZE
    assert (media_root / preview.sample_name(slug)).read_bytes() == expected


def test_style_sample_is_stored_once_and_reused(client, media_root):
    url = reverse("gallery:style_sample", args=["oil"])
    client.get(url)
    stored = media_root / preview.sample_name("oil")
    stored.write_bytes(b"marker: served from storage")
    assert client.get(url).content == b"marker: served from storage"
    assert len(list(stored.parent.iterdir())) == 1


def test_unknown_style_sample_is_404(client):
    assert client.get("/styles/nope/sample.jpg").status_code == 404
