"""The JSON API as automation uses it; every documented field is pinned."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

import processing
from tests.conftest import PASSWORD, image_bytes, upload_file

pytestmark = pytest.mark.django_db(transaction=True)

ARTWORK_FIELDS = {
    "id", "style", "params", "engine_version", "status", "stage", "progress",
    "queue_position", "eta_seconds", "error", "result_url", "thumbnail_url",
    "original_url", "public", "created", "media", "duration", "frames",
    "animation_url",
}  # fmt: skip


def test_styles_endpoint_matches_registry(client):
    body = client.get("/api/styles/").json()
    assert [s["slug"] for s in body["styles"]] == [
        "pencil",
        "color_pencil",
        "oil",
        "watercolor",
        "cartoon",
        "impressionist",
        "pointillism",
        "ink_wash",
    ]
    for entry in body["styles"]:
        assert set(entry) == {"slug", "label", "description", "params"}
        style = processing.STYLES[entry["slug"]]
        assert entry["label"] == style.label
        for param, spec in zip(entry["params"], style.params, strict=True):
            assert set(param) == {"name", "type", "default", "min", "max", "step"}
            assert param["name"] == spec.name
            assert param["type"] in ("int", "float", "bool")
            assert param["min"] <= param["default"] <= param["max"]


def test_api_flow_as_automation_uses_it(queue, run_worker):
    client = Client(enforce_csrf_checks=True)
    # Sign up (the form sets the CSRF cookie), then sign out and sign in again.
    client.get("/accounts/signup/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/accounts/signup/",
        {
            "username": "automaton",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    client.post("/accounts/logout/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        {
            "username": "automaton",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302

    # Without the CSRF header the upload is refused.
    refused = client.post(
        "/api/artworks/", {"image": upload_file(), "style": ["pencil"]}
    )
    assert refused.status_code == 403

    params = {"oil": {"size": 5, "dyn_ratio": 2}}
    response = client.post(
        "/api/artworks/",
        {
            "image": upload_file(image_bytes(width=500, height=400)),
            "style": ["oil", "cartoon"],
            "params": json.dumps(params),
        },
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 202, response.content
    created = response.json()["artworks"]
    assert len(created) == 2
    for entry in created:
        assert set(entry) == {"id", "status", "url"}
        assert entry["status"] == "queued"
        assert entry["url"] == f"/api/artworks/{entry['id']}/"

    queued = client.get(created[0]["url"]).json()
    assert set(queued) == ARTWORK_FIELDS
    assert (
        queued["status"] == "queued"
        and queued["stage"] == "queued"
        and queued["progress"] == 0
    )
    assert queued["result_url"] is None and queued["original_url"]

    run_worker()
    for entry in created:
        body = client.get(entry["url"]).json()
        assert set(body) == ARTWORK_FIELDS
        assert (
            body["status"] == "done" and body["progress"] == 100 and body["error"] == ""
        )
        assert body["engine_version"] == processing.style_version(body["style"])
        assert body["public"] is False
        if body["style"] == "oil":
            # The full recipe: the generic strength and keep_colors included.
            assert body["params"] == {
                "size": 5,
                "dyn_ratio": 2,
                "strength": 1.0,
                "keep_colors": False,
            }
        download = client.get(body["result_url"] + "?download=1")
        assert download.status_code == 200
        assert b"".join(download.streaming_content)[:2] == b"\xff\xd8"
        assert client.get(body["thumbnail_url"]).status_code == 200


def test_bad_style_and_params_are_400_with_field(owner_client):
    url = reverse("gallery:api_artworks")
    body = owner_client.post(url, {"image": upload_file(), "style": "crayon"}).json()
    assert body["field"] == "style"
    body = owner_client.post(
        url, {"image": upload_file(), "style": "oil", "params": "{not json"}
    ).json()
    assert body["field"] == "params"
    body = owner_client.post(
        url,
        {
            "image": upload_file(),
            "style": "oil",
            "params": json.dumps({"oil": {"size": 0}}),
        },
    ).json()
    assert body["field"] == "params" and "size" in body["error"]


@pytest.mark.parametrize(
    "params",
    [
        '{"oil": {"size": 1' + "0" * 400 + "}}",  # OverflowError in float()
        '{"oil": {"size": 1' + "0" * 5000 + "}}",  # past int's 4300 digits
        "[" * 50_000 + "]" * 50_000,  # RecursionError in json.loads
    ],
    ids=["400-digits", "5000-digits", "deep-nesting"],
)
@pytest.mark.parametrize("url", ["/api/artworks/", "/api/preview/"])
def test_hostile_params_are_400_naming_params(owner_client, url, params):
    response = owner_client.post(
        url, {"image": upload_file(), "style": "oil", "params": params}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "params"


def test_declared_oversize_body_is_413(owner_client, settings):
    # The upload endpoint's body cap is the larger of the two.
    settings.STUDIO_MAX_UPLOAD_BYTES = settings.STUDIO_MAX_VIDEO_BYTES = 10_000
    response = owner_client.post(
        reverse("gallery:api_artworks"),
        {
            "image": upload_file(image_bytes(width=1600, height=1200, quality=95)),
            "style": "pencil",
        },
    )
    assert response.status_code == 413
    assert response.json()["field"] == "image"
