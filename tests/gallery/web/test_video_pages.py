"""Videos and animations on the pages: the artwork page plays the result
and offers the compare, gallery cards carry a badge, the upload page names
the formats and limits."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from gallery import services
from gallery.models import Artwork
from tests.gallery.clips import clip_bytes, clip_upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def video_artwork(owner_client, queue, run_worker) -> Artwork:
    response = owner_client.post(
        reverse("gallery:api_artworks"),
        {"image": clip_upload(clip_bytes()), "style": "pencil"},
    )
    assert response.status_code == 202, response.content
    run_worker()
    return Artwork.objects.select_related("photo").get(status=Artwork.Status.DONE)


def test_the_artwork_page_plays_the_video_and_offers_the_compare(
    owner_client, other_client, video_artwork
):
    page = owner_client.get(video_artwork.get_absolute_url()).content.decode()
    thumb = reverse("gallery:artwork_media", args=[video_artwork.pk, "thumbnail"])
    result = reverse("gallery:artwork_media", args=[video_artwork.pk, "result"])
    assert 'data-role="result-video"' in page and f'poster="{thumb}"' in page
    assert f'<source src="{result}" type="video/mp4">' in page
    assert 'data-role="moving-compare"' in page and 'data-role="compare-open"' in page
    assert "?format=" not in page  # no still-format downloads for a video
    services.artwork_set_public(video_artwork, True)
    seen = other_client.get(video_artwork.get_absolute_url()).content.decode()
    assert 'data-role="result-video"' in seen
    assert 'data-role="moving-compare"' not in seen  # the original is the owner's


def test_gallery_cards_carry_a_video_badge(owner_client, video_artwork, queue):
    services.artwork_set_public(video_artwork, True)
    mine = owner_client.get(reverse("gallery:my_gallery")).content.decode()
    assert mine.count('data-role="media-badge"') == 1
    explore = Client().get(reverse("gallery:explore")).content.decode()
    assert explore.count('data-role="media-badge"') == 1


def test_the_upload_page_names_the_video_formats_and_limits(owner_client, settings):
    settings.STUDIO_MAX_VIDEO_SECONDS = 12
    page = owner_client.get(reverse("gallery:upload")).content.decode()
    assert 'data-role="video-limits"' in page
    for text in ("MP4", "MOV", "WebM", "12 seconds"):
        assert text in page
    assert "video/mp4" in page and ".webm" in page  # the file input's accept list


def test_a_shared_video_plays_on_its_shared_page(video_artwork):
    from gallery import sharing

    link = sharing.share_create(video_artwork)
    page = Client().get(f"/s/{link.token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<video controls playsinline" in html and 'type="video/mp4"' in html
    source = html.split('<source src="')[1].split('"')[0]
    played = Client().get(source, headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and played["Content-Type"] == "video/mp4"
