"""Nobody sees another user's private artwork; anonymous users sign in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

import processing
from gallery import services
from gallery.services import Recipe
from tests.conftest import upload_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def done_artwork(owner, queue, run_worker):
    upload = upload_file()
    (artwork,) = services.artworks_create(
        owner,
        upload,
        processing.inspect(upload),
        [Recipe("pencil", processing.validate_params("pencil", {}))],
    )
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == "done"
    return artwork


def _private_urls(artwork):
    return [
        reverse("gallery:artwork_detail", args=[artwork.pk]),
        reverse("gallery:api_artwork", args=[artwork.pk]),
        reverse("gallery:artwork_media", args=[artwork.pk, "original"]),
        reverse("gallery:artwork_media", args=[artwork.pk, "result"]),
        reverse("gallery:artwork_media", args=[artwork.pk, "thumbnail"]),
    ]


def test_owner_sees_everything(owner_client, done_artwork):
    for url in _private_urls(done_artwork):
        response = owner_client.get(url)
        assert response.status_code == 200, url


def test_other_user_gets_404_everywhere(other_client, done_artwork):
    for url in _private_urls(done_artwork):
        assert other_client.get(url).status_code == 404, url
    for name in ("artwork_visibility", "artwork_delete"):
        response = other_client.post(
            reverse(f"gallery:{name}", args=[done_artwork.pk]), {"public": "1"}
        )
        assert response.status_code == 404
    done_artwork.refresh_from_db()
    assert done_artwork.public is False


def test_anonymous_pages_redirect_to_sign_in_and_api_refuses(client, done_artwork):
    for name in ("gallery:my_gallery", "gallery:upload"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert (
        client.get(reverse("gallery:api_artwork", args=[done_artwork.pk])).status_code
        == 401
    )
    assert (
        client.get(
            reverse("gallery:artwork_detail", args=[done_artwork.pk])
        ).status_code
        == 404
    )
    response = client.post(
        reverse("gallery:api_artworks"), {"style": "pencil", "image": upload_file()}
    )
    assert response.status_code in (401, 403)


def test_public_artwork_is_visible_but_not_editable(other_client, client, done_artwork):
    services.artwork_set_public(done_artwork, True)
    original = reverse("gallery:artwork_media", args=[done_artwork.pk, "original"])
    for c in (other_client, client):
        for url in _private_urls(done_artwork):
            # The original is the upload as sent (EXIF, GPS): owner only.
            expected = 404 if url == original else 200
            assert c.get(url).status_code == expected, url
    response = other_client.post(
        reverse("gallery:artwork_delete", args=[done_artwork.pk])
    )
    assert response.status_code == 404
    explore = client.get(reverse("gallery:explore"))
    assert done_artwork in explore.context["page"].object_list


def test_private_artworks_never_on_explore(client, done_artwork):
    explore = client.get(reverse("gallery:explore"))
    assert list(explore.context["page"].object_list) == []


def test_my_gallery_lists_only_own_artworks_newest_first(
    owner_client, other_client, done_artwork
):
    upload = upload_file()
    (newer,) = services.artworks_create(
        done_artwork.owner,
        upload,
        processing.inspect(upload),
        [Recipe("oil", processing.validate_params("oil", {}))],
    )
    page = owner_client.get(reverse("gallery:my_gallery")).context["page"]
    assert [a.pk for a in page.object_list] == [newer.pk, done_artwork.pk]
    assert (
        list(
            other_client.get(reverse("gallery:my_gallery")).context["page"].object_list
        )
        == []
    )


def test_media_headers(owner_client, done_artwork):
    response = owner_client.get(
        reverse("gallery:artwork_media", args=[done_artwork.pk, "result"])
        + "?download=1"
    )
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_original_url_is_given_to_the_owner_only(
    owner_client, other_client, done_artwork
):
    services.artwork_set_public(done_artwork, True)
    url = reverse("gallery:api_artwork", args=[done_artwork.pk])
    assert owner_client.get(url).json()["original_url"]
    for viewer in (other_client, Client()):
        body = viewer.get(url).json()
        assert body["original_url"] is None and body["result_url"]
