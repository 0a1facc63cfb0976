"""Share links: made by the owner of a done artwork, opened by anyone
without a session, never showing the original; revoked, expired, hidden or
deleted artworks stop at once; the preview image is a signed, short-lived
URL that needs no session."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gallery import services, sharing
from gallery.models import Artwork, Profile, ShareLink
from tests.conftest import create_artworks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def done(owner, queue, run_worker):
    Profile.objects.create(user=owner, display_name="Berthe Morisot")
    (artwork,) = create_artworks(owner, ("oil",))
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == "done"
    return artwork


def _share(client, artwork, **data):
    return client.post(f"/api/artworks/{artwork.pk}/share/", data)


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _meta(html: str, key: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{key}" content="([^"]*)"', html)
    assert match, key
    return match.group(1).replace("&amp;", "&")


def test_share_link_opens_without_session_and_never_shows_the_original(
    owner_client, done
):
    response = _share(owner_client, done)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"url", "expires"}
    assert body["url"].startswith("http://testserver/s/")
    expires = timezone.datetime.fromisoformat(body["expires"])
    assert abs(expires - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    anonymous = Client()
    page = anonymous.get(_path(body["url"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Berthe Morisot" in html and "Brush size" in html  # author and recipe
    assert "/original/" not in html and done.photo.original.name not in html
    assert page["X-Robots-Tag"].startswith("noindex")
    assert '<meta name="robots" content="noindex' in html
    assert _meta(html, "og:title").startswith("Oil painting by Berthe Morisot")
    assert _meta(html, "twitter:card") == "summary_large_image"
    image = _meta(html, "og:image")
    assert image.startswith("http://testserver/shared/media/")
    assert image == _meta(html, "twitter:image")
    # A link preview fetcher has no session: the thumbnail answers anyway.
    thumb = Client().get(_path(image))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert b"".join(thumb.streaming_content) == done.thumbnail.open("rb").read()
    assert thumb["X-Robots-Tag"].startswith("noindex")
    result_url = re.search(r'data-role="shared-result"', html) and re.search(
        r'<img src="([^"]+)"[^>]*data-role="shared-result"', html
    ).group(1)
    assert Client().get(_path(result_url.replace("&amp;", "&"))).status_code == 200


def test_each_post_makes_a_new_link_and_delete_ends_them_all(owner_client, done):
    urls = [
        _share(owner_client, done, expires_in_days=d).json()["url"] for d in (1, 365)
    ]
    assert urls[0] != urls[1]
    link = ShareLink.objects.get(token=urls[1].rstrip("/").rsplit("/", 1)[1])
    assert link.expires - timezone.now() > timedelta(days=364)
    page = Client().get(_path(urls[0]))
    image = _meta(page.content.decode(), "og:image")
    assert owner_client.delete(f"/api/artworks/{done.pk}/share/").status_code == 204
    for url in [*urls, image]:
        assert Client().get(_path(url)).status_code == 404


@pytest.mark.parametrize("days", ["0", "366", "-3", "soon"])
def test_expiry_outside_1_to_365_is_400(owner_client, done, days):
    response = _share(owner_client, done, expires_in_days=days)
    assert response.status_code == 400
    assert response.json()["field"] == "expires_in_days"
    assert not ShareLink.objects.exists()


def test_only_the_owner_shares_and_only_done_artworks(
    owner_client, other_client, owner, done
):
    assert _share(other_client, done).status_code == 404
    assert other_client.delete(f"/api/artworks/{done.pk}/share/").status_code == 404
    assert _share(Client(), done).status_code == 401
    assert Client().delete(f"/api/artworks/{done.pk}/share/").status_code == 401
    Artwork.objects.filter(pk=done.pk).update(status="failed")
    refused = _share(owner_client, done)
    assert refused.status_code == 400 and "finished" in refused.json()["error"]
    assert _share(owner_client, Artwork(pk=999_999)).status_code == 404


def test_expired_hidden_and_deleted_stop_at_once(owner_client, done):
    url = _path(_share(owner_client, done).json()["url"])
    assert Client().get(url).status_code == 200
    ShareLink.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert Client().get(url).status_code == 404
    ShareLink.objects.update(expires=timezone.now() + timedelta(days=1))
    services.artwork_set_moderation(done, Artwork.Moderation.HIDDEN)
    assert Client().get(url).status_code == 404
    services.artwork_set_moderation(done, Artwork.Moderation.VISIBLE)
    page = Client().get(url)
    image = _path(_meta(page.content.decode(), "og:image"))
    services.artwork_delete(done)
    assert Client().get(url).status_code == 404
    assert Client().get(image).status_code == 404


def test_signed_media_urls_expire_and_cannot_be_forged(owner_client, done, monkeypatch):
    url = _path(_share(owner_client, done).json()["url"])
    image = _path(_meta(Client().get(url).content.decode(), "og:image"))
    signed = image.split("/")[-2]
    assert Client().get(image).status_code == 200
    # The original is not reachable by editing the signed value.
    link_id = signed.split(".")[0]
    forged = signed.replace(f"{link_id}.thumbnail", f"{link_id}.original")
    assert Client().get(f"/shared/media/{forged}/").status_code == 404
    assert Client().get("/shared/media/1.result:abc:def/").status_code == 404
    later = time.time() + sharing.MEDIA_URL_SECONDS + 5
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert Client().get(image).status_code == 404


def test_unknown_tokens_are_404(client):
    for token in ("nope", "x" * 70, "../admin"):
        assert client.get(f"/s/{token}/").status_code == 404


@pytest.mark.parametrize("days", ["²", "١٢", "9" * 5000])
def test_the_share_button_with_strange_days_takes_the_default(owner_client, done, days):
    response = owner_client.post(
        f"/artworks/{done.pk}/share/", {"expires_in_days": days}
    )
    assert response.status_code == 302
    link = ShareLink.objects.get(artwork=done)
    assert timedelta(days=29) < link.expires - timezone.now() <= timedelta(days=30)


def test_artwork_page_buttons(owner_client, done):
    page = owner_client.get(f"/artworks/{done.pk}/")
    assert b'data-role="create-share"' in page.content
    response = owner_client.post(
        f"/artworks/{done.pk}/share/", {"expires_in_days": "7"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#share")
    link = ShareLink.objects.get(artwork=done)
    assert timedelta(days=6) < link.expires - timezone.now() <= timedelta(days=7)
    page = owner_client.get(f"/artworks/{done.pk}/")
    assert f"/s/{link.token}/".encode() in page.content
    owner_client.post(f"/artworks/{done.pk}/unshare/")
    assert not ShareLink.objects.exists()


def test_other_user_cannot_use_the_page_buttons(other_client, done):
    assert other_client.post(f"/artworks/{done.pk}/share/").status_code == 404
    assert other_client.post(f"/artworks/{done.pk}/unshare/").status_code == 404
    page = Client().post(f"/artworks/{done.pk}/share/")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
    assert not ShareLink.objects.exists()


def test_tokens_that_are_not_token_shaped_are_not_looked_up(client):
    for token in ("%00" * 20, "a" * 15 + "%00", "a.b.c.d.e.f.g.h.i.j.k"):
        assert client.get(f"/s/{token}/").status_code == 404
