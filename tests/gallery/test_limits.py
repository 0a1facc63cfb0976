"""Per-user quotas: usage figures, limits, and refusals that create nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.urls import reverse

from gallery import limits, services
from gallery.models import Artwork, Photo, Profile
from tests.conftest import create_artworks, image_bytes, stored_files, upload_file
from tests.gallery.media_rows import make_artwork, make_photo

pytestmark = pytest.mark.django_db


def test_usage_counts_originals_results_and_thumbnails(owner, other, settings):
    settings.STUDIO_QUOTA_PHOTOS = 500
    settings.STUDIO_QUOTA_BYTES = 20_000
    photo = make_photo(owner)
    done = make_artwork(photo)
    make_artwork(photo, status=Artwork.Status.FAILED)
    make_artwork(make_photo(other))  # someone else's

    usage = limits.usage_for(owner)

    assert usage == limits.QuotaUsage(
        photos_used=1,
        max_photos=500,
        bytes_used=photo.byte_size + done.result_bytes + done.thumbnail_bytes,
        max_bytes=20_000,
    )
    assert 0 < usage.percent == usage.bytes_percent < 100


def test_an_uploads_checks_count_in_one_query(
    owner, other, settings, django_assert_num_queries
):
    """Every upload runs the checks twice; the counts are one statement,
    the owner's own and the whole site's queue."""
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 2
    settings.STUDIO_MAX_QUEUE_DEPTH = 3
    make_artwork(make_photo(owner), status=Artwork.Status.PROCESSING)
    make_artwork(make_photo(other), status=Artwork.Status.QUEUED)
    make_artwork(make_photo(other), status=Artwork.Status.QUEUED)
    with django_assert_num_queries(1):
        limits.check_upload(owner, 1, 100)  # 1 + 1 <= 2 mine, 2 + 1 <= 3 queued
    with pytest.raises(limits.UploadRefused) as mine:  # (+ its Retry-After)
        limits.check_upload(owner, 2, 100)
    assert mine.value.status == 429
    make_artwork(make_photo(other), status=Artwork.Status.QUEUED)
    with pytest.raises(limits.UploadRefused) as site:
        limits.check_upload(owner, 1, 100)
    assert site.value.status == 503


def test_profile_overrides_the_defaults(owner, settings):
    settings.STUDIO_QUOTA_PHOTOS = 500
    settings.STUDIO_QUOTA_BYTES = 0  # no site limit
    assert limits.usage_for(owner).has_byte_limit is False
    Profile.objects.create(user=owner, max_photos=2, max_bytes=10_000)
    usage = limits.usage_for(owner)
    assert (usage.max_photos, usage.max_bytes, usage.has_byte_limit) == (
        2,
        10_000,
        True,
    )


def test_no_limit_when_settings_are_zero(owner, settings):
    settings.STUDIO_QUOTA_PHOTOS = 0
    settings.STUDIO_QUOTA_BYTES = 0
    make_artwork(make_photo(owner))
    limits.check_quota(owner, 10**12)  # does not raise
    assert limits.usage_for(owner).percent == 0


def test_over_byte_quota_upload_is_refused_and_creates_nothing(
    owner_client, owner, settings, media_root, queue
):
    data = image_bytes(width=320, height=240)
    settings.STUDIO_QUOTA_BYTES = len(data) - 1
    response = owner_client.post(
        reverse("gallery:upload"), {"image": upload_file(data), "style": ["pencil"]}
    )
    assert response.status_code == 413
    (message,) = response.context["form"].non_field_errors()
    message = message.replace("\xa0", " ")
    assert "storage quota" in message and "0 bytes of" in message
    assert not Photo.objects.exists() and not Artwork.objects.exists()
    assert stored_files(media_root) == []
    assert queue.count == 0


def test_over_photo_quota_through_the_api_is_413_without_retry_after(
    owner_client, owner, settings, media_root, queue
):
    Profile.objects.create(user=owner, max_photos=1)
    make_photo(owner)
    files_before = stored_files(media_root)
    response = owner_client.post(
        reverse("gallery:api_artworks"), {"image": upload_file(), "style": "pencil"}
    )
    assert response.status_code == 413
    assert "limit of 1 photos" in response.json()["error"]
    assert "Retry-After" not in response
    assert Photo.objects.count() == 1 and not Artwork.objects.exists()
    assert stored_files(media_root) == files_before
    assert queue.count == 0


def test_moderator_can_stop_one_users_uploads(owner, settings):
    settings.STUDIO_QUOTA_PHOTOS = 0  # the site has no limit
    Profile.objects.create(user=owner, max_photos=0)
    with pytest.raises(limits.UploadRefused) as refusal:
        limits.check_quota(owner, 100)
    assert refusal.value.status == 413 and refusal.value.retry_after is None


def test_upload_within_quota_succeeds(owner_client, settings, queue):
    settings.STUDIO_QUOTA_BYTES = 50 * 1024 * 1024
    response = owner_client.post(
        reverse("gallery:upload"), {"image": upload_file(), "style": ["pencil"]}
    )
    assert response.status_code == 302
    assert Photo.objects.count() == 1


def test_upload_page_shows_the_quota(owner_client, owner, settings):
    settings.STUDIO_QUOTA_BYTES = 500 * 1024 * 1024
    settings.STUDIO_QUOTA_PHOTOS = 500
    make_artwork(make_photo(owner))
    response = owner_client.get(reverse("gallery:upload"))
    usage = response.context["quota"]
    assert usage == limits.usage_for(owner)
    page = response.content.decode().replace("\xa0", " ")
    assert "of 500.0 MB used" in page
    assert "1 of 500 photos" in page


def _upload_in_thread(owner, outcome: dict, name: str) -> threading.Thread:
    from django.db import connection

    def run() -> None:
        try:
            create_artworks(owner)
            outcome[name] = "saved"
        except limits.UploadRefused as refusal:
            outcome[name] = refusal.status
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_uploads_at_once_cannot_both_take_the_last_place(
    owner, media_root, queue, monkeypatch
):
    """The first upload is held inside its transaction while a second one
    passes the early check (the first is not committed yet); the second must
    still be refused, by the check repeated under the owner's lock."""
    Profile.objects.create(user=owner, max_photos=1)
    first_inside, release_first = threading.Event(), threading.Event()
    second_checked = threading.Event()
    queue_artworks = services._queue_artworks
    refuse_over_quota = limits._refuse_over_quota

    def held_queue_artworks(photo, owner, recipes):
        if not first_inside.is_set():
            first_inside.set()
            assert release_first.wait(20)
        return queue_artworks(photo, owner, recipes)

    def watched_refuse_over_quota(usage, byte_size):
        refuse_over_quota(usage, byte_size)
        if first_inside.is_set():
            second_checked.set()

    monkeypatch.setattr(services, "_queue_artworks", held_queue_artworks)
    monkeypatch.setattr(limits, "_refuse_over_quota", watched_refuse_over_quota)
    outcome: dict = {}
    first = _upload_in_thread(owner, outcome, "first")
    assert first_inside.wait(20)
    second = _upload_in_thread(owner, outcome, "second")
    assert second_checked.wait(20)  # passed the early check: a place looked free
    time.sleep(0.3)  # let it reach the owner's lock
    release_first.set()
    first.join(30)
    second.join(30)
    assert outcome == {"first": "saved", "second": 413}
    assert Photo.objects.count() == 1
    assert stored_files(media_root) == [Photo.objects.get().original.name]


def test_rate_window_resets_after_the_minute():
    assert limits.hit("preview", 7, 1, now=120.0) is None
    assert limits.hit("preview", 7, 1, now=150.5) == 30
    assert limits.hit("preview", 7, 1, now=180.0) is None
