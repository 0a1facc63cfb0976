"""Personal access tokens: made in a session only, shown once, stored
hashed; Bearer works on every /api/ endpoint (and the media it links to)
without CSRF; read tokens only GET; a revoked token fails at once; tokens
share their user's rate limits."""

from __future__ import annotations

import pytest
from django.test import Client

from gallery.models import ApiToken
from tests.conftest import create_artworks, upload_file

pytestmark = pytest.mark.django_db(transaction=True)


def _make_token(client, scope="write", name="script") -> dict:
    response = client.post("/api/tokens/", {"name": name, "scope": scope})
    assert response.status_code == 201, response.content
    return response.json()


def _bearer(secret: str) -> Client:
    # enforce_csrf_checks: a token request must pass without any CSRF token.
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_token_is_shown_once_and_stored_hashed(owner_client, owner):
    created = _make_token(owner_client)
    assert set(created) == {
        "id",
        "name",
        "scope",
        "prefix",
        "created",
        "last_used",
        "token",
    }
    secret = created["token"]
    row = ApiToken.objects.get(pk=created["id"])
    assert secret not in (row.digest, row.prefix) and len(row.digest) == 64
    listed = owner_client.get("/api/tokens/").json()["tokens"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and secret not in str(listed)


def test_tokens_are_made_in_a_session_only(owner_client):
    client = Client()
    secret = _make_token(owner_client)["token"]
    refused = _bearer(secret).post("/api/tokens/", {"name": "more", "scope": "write"})
    assert refused.status_code == 403
    assert client.post("/api/tokens/", {"name": "x"}).status_code == 401
    assert client.get("/api/tokens/").status_code == 401
    bad = owner_client.post("/api/tokens/", {"name": "x", "scope": "admin"})
    assert bad.status_code == 400 and bad.json()["field"] == "scope"
    assert ApiToken.objects.count() == 1


def test_bearer_uploads_polls_and_downloads_without_csrf(
    owner_client, owner, queue, run_worker
):
    api = _bearer(_make_token(owner_client)["token"])
    response = api.post("/api/artworks/", {"image": upload_file(), "style": "pencil"})
    assert response.status_code == 202, response.content
    url = response.json()["artworks"][0]["url"]
    run_worker()
    body = api.get(url).json()
    assert body["status"] == "done" and body["original_url"]
    download = api.get(body["result_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"\xff\xd8"
    zipped = api.get(f"/api/artworks/download.zip?ids={body['id']}")
    assert zipped.status_code == 200


def test_read_token_only_reads(owner_client, owner):
    (artwork,) = create_artworks(owner)
    api = _bearer(_make_token(owner_client, scope="read")["token"])
    assert api.get(f"/api/artworks/{artwork.pk}/").status_code == 200
    assert api.get("/api/presets/").status_code == 200
    for method, url, data in [
        ("post", "/api/artworks/", {"image": upload_file(), "style": "pencil"}),
        ("post", "/api/presets/", {"name": "x", "style": "pencil"}),
        ("post", f"/api/artworks/{artwork.pk}/share/", {}),
        ("delete", f"/api/artworks/{artwork.pk}/share/", None),
        ("post", "/api/account/delete/", {"password": "whatever"}),
    ]:
        response = (
            getattr(api, method)(url, data)
            if data is not None
            else getattr(api, method)(url)
        )
        assert response.status_code == 403, (method, url)
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert set(response.json()) == {"error", "field"}
    assert owner.photos.count() == 1


def test_revoked_and_forged_tokens_fail_at_once(owner_client, owner):
    created = _make_token(owner_client)
    api = _bearer(created["token"])
    assert api.get("/api/tokens/").status_code == 200
    assert owner_client.delete(f"/api/tokens/{created['id']}/").status_code == 204
    for client in (api, _bearer(created["token"] + "x"), _bearer("ias_forged")):
        response = client.get("/api/styles/")
        assert response.status_code == 401
        assert response.json()["field"] == ""
    # Even with a session, a bad token is not ignored.
    owner_client.defaults["HTTP_AUTHORIZATION"] = "Bearer nope"
    assert owner_client.get("/api/presets/").status_code == 401


def test_token_of_another_user_and_inactive_user(
    owner_client, other_client, owner, other
):
    (artwork,) = create_artworks(owner)
    other_token = _make_token(other_client)
    api = _bearer(other_token["token"])
    assert api.get(f"/api/artworks/{artwork.pk}/").status_code == 404
    assert api.get(f"/media/artworks/{artwork.pk}/result/").status_code == 404
    assert owner_client.delete(f"/api/tokens/{other_token['id']}/").status_code == 404
    other.is_active = False
    other.save()
    assert api.get("/api/styles/").status_code == 401


def test_tokens_count_against_their_users_rate_limit(
    owner_client, settings, steady_rate_window
):
    settings.STUDIO_UPLOAD_RATE = 2
    api = _bearer(_make_token(owner_client)["token"])
    bad = {"image": upload_file(b"not an image"), "style": "pencil"}
    assert owner_client.post("/api/artworks/", bad).status_code == 400
    assert (
        api.post("/api/artworks/", {**bad, "image": upload_file(b"x")}).status_code
        == 400
    )
    limited = api.post("/api/artworks/", {**bad, "image": upload_file(b"x")})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert owner_client.post("/api/artworks/", bad).status_code == 429


def test_account_page_makes_shows_once_and_revokes(owner_client, owner):
    response = owner_client.post(
        "/account/tokens/", {"name": "backup", "scope": "read"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    secret = response.context["new_token"]["secret"]
    assert secret.encode() in response.content
    page = owner_client.get("/account/")
    assert b"backup" in page.content and secret.encode() not in page.content
    token = ApiToken.objects.get(user=owner)
    assert _bearer(secret).get("/api/tokens/").status_code == 200
    owner_client.post(f"/account/tokens/{token.pk}/revoke/")
    assert _bearer(secret).get("/api/tokens/").status_code == 401


def test_account_page_cannot_revoke_another_users_token(owner_client, other_client):
    created = _make_token(other_client)
    response = owner_client.post(f"/account/tokens/{created['id']}/revoke/")
    assert response.status_code == 404
    assert _bearer(created["token"]).get("/api/tokens/").status_code == 200
