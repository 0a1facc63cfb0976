"""Videos and animations through the request side: the upload (API and
page), the artwork JSON, the media view's byte ranges, and the pages."""

from __future__ import annotations

import io
import math
import zipfile

import av
import pytest
from django.test import Client
from django.urls import reverse

from gallery import services
from gallery.models import Artwork, Photo
from gallery.pipeline.queue import get_queue
from tests.conftest import image_bytes, stored_files, upload_file
from tests.gallery.clips import animation_bytes, clip_bytes, clip_upload

pytestmark = pytest.mark.django_db(transaction=True)


def _upload_clip(client, data: bytes, name: str = "clip.mp4", style="pencil"):
    return client.post(
        reverse("gallery:api_artworks"),
        {"image": clip_upload(data, name), "style": style},
    )


def _done(run_worker, response) -> Artwork:
    assert response.status_code == 202, response.content
    run_worker()
    artwork = Artwork.objects.select_related("photo").get(
        pk=response.json()["artworks"][0]["id"]
    )
    assert artwork.status == Artwork.Status.DONE, artwork.error
    return artwork


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def video_artwork(owner_client, queue, run_worker) -> Artwork:
    """A done artwork of a 1 s, 10 fps clip with sound."""
    return _done(run_worker, _upload_clip(owner_client, clip_bytes()))


def test_a_clip_uploaded_through_the_api_becomes_an_mp4_with_its_sound(
    owner_client, video_artwork
):
    photo = video_artwork.photo
    assert (photo.media, photo.frames) == ("video", 10)
    assert photo.duration == pytest.approx(1.0, abs=0.15)
    assert photo.original.name.endswith(".mp4")
    data = owner_client.get(reverse("gallery:api_artwork", args=[video_artwork.pk]))
    body = data.json()
    assert body["media"] == "video" and body["frames"] == 10
    assert body["duration"] == pytest.approx(1.0, abs=0.15)
    assert body["animation_url"] is None
    assert body["stage"] == "done" and body["progress"] == 100
    response = owner_client.get(body["result_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    with av.open(io.BytesIO(_body(response))) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert len(container.streams.audio) == 1
        assert sum(1 for _ in container.decode(video=0)) == 10
    assert owner_client.get(body["thumbnail_url"])["Content-Type"] == "image/jpeg"
    assert video_artwork.result_bytes > 0 and video_artwork.thumbnail_bytes > 0


def test_an_animated_gif_uploaded_on_the_page_gets_an_mp4_and_a_webp(
    owner_client, queue, run_worker
):
    response = owner_client.post(
        reverse("gallery:upload"),
        {"image": clip_upload(animation_bytes(frames=6), "loop.gif"), "style": "oil"},
    )
    assert response.status_code == 302
    run_worker()
    artwork = Artwork.objects.select_related("photo").get()
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert (artwork.photo.media, artwork.photo.frames) == ("animation", 6)
    body = owner_client.get(reverse("gallery:api_artwork", args=[artwork.pk])).json()
    assert body["media"] == "animation" and body["animation_url"]
    animation = owner_client.get(body["animation_url"])
    assert animation["Content-Type"] == "image/webp"
    assert _body(animation)[8:12] == b"WEBP"
    assert artwork.animation_bytes > 0
    assert owner_client.get(body["result_url"])["Content-Type"] == "video/mp4"


def test_a_still_gif_stays_a_photo(owner_client, queue, run_worker):
    response = owner_client.post(
        reverse("gallery:api_artworks"),
        {"image": upload_file(image_bytes("GIF"), "still.gif", "image/gif"),
         "style": "pencil"},
    )  # fmt: skip
    artwork = _done(run_worker, response)
    assert artwork.photo.media == "image"
    body = owner_client.get(reverse("gallery:api_artwork", args=[artwork.pk])).json()
    assert body["media"] == "image"
    assert body["duration"] is body["frames"] is body["animation_url"] is None


def test_photos_answer_null_video_fields(owner_client, queue, run_worker):
    artwork = _done(
        run_worker,
        owner_client.post(
            reverse("gallery:api_artworks"), {"image": upload_file(), "style": "pencil"}
        ),
    )
    body = owner_client.get(reverse("gallery:api_artwork", args=[artwork.pk])).json()
    assert (body["media"], body["duration"], body["frames"]) == ("image", None, None)
    assert body["animation_url"] is None


def _refusals():
    good = clip_bytes()
    return {
        "too long": ({"STUDIO_MAX_VIDEO_SECONDS": 1}, clip_bytes(seconds=2.0)),
        "too many pixels": ({"STUDIO_MAX_VIDEO_PIXELS": 64 * 48}, good),
        "too many bytes": ({"STUDIO_MAX_VIDEO_BYTES": len(good) - 1}, good),
        "truncated": ({}, good[: len(good) // 3]),
        "not a container": ({}, good[:32] + b"\0" * 4000),
        "animation too long": (
            {"STUDIO_MAX_VIDEO_SECONDS": 1},
            animation_bytes(frames=15),  # 100 ms a frame: 1.5 s
        ),
    }


REFUSALS = _refusals()


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("via", ["api", "page"])
def test_a_refused_clip_is_400_naming_the_field_with_nothing_written(
    owner_client, settings, queue, media_root, case, via
):
    overrides, data = REFUSALS[case]
    for name, value in overrides.items():
        setattr(settings, name, value)
    name = "loop.gif" if case.startswith("animation") else "clip.mp4"
    if via == "api":
        response = _upload_clip(owner_client, data, name)
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["field"] == "image" and body["error"]
    else:
        response = owner_client.post(
            reverse("gallery:upload"),
            {"image": clip_upload(data, name), "style": "pencil"},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["image"]
    assert not Photo.objects.exists() and not Artwork.objects.exists()
    assert stored_files(media_root) == []
    assert queue.count == 0


def test_the_limits_are_named_in_the_refusal(owner_client, settings):
    settings.STUDIO_MAX_VIDEO_SECONDS = 1
    response = _upload_clip(owner_client, clip_bytes(seconds=2.0))
    assert "1" in response.json()["error"]


def test_a_photo_keeps_the_photo_cap_and_a_clip_the_video_cap(
    owner_client, settings, queue, run_worker, media_root
):
    """The upload endpoints take bodies up to the video cap; the form holds
    each kind of file to its own."""
    clip = clip_bytes()
    photo = image_bytes("PNG", 640, 480)
    settings.STUDIO_MAX_UPLOAD_BYTES = len(clip) // 2
    settings.STUDIO_MAX_VIDEO_BYTES = len(photo) * 4
    assert len(photo) > settings.STUDIO_MAX_UPLOAD_BYTES
    refused = owner_client.post(
        reverse("gallery:api_artworks"),
        {"image": upload_file(photo, "big.png", "image/png"), "style": "pencil"},
    )
    assert refused.status_code == 400 and refused.json()["field"] == "image"
    assert stored_files(media_root) == []
    _done(run_worker, _upload_clip(owner_client, clip))


def test_the_same_clip_twice_reuses_the_render(owner_client, queue, run_worker):
    data = clip_bytes()
    first = _done(run_worker, _upload_clip(owner_client, data))
    response = _upload_clip(owner_client, data)
    second = Artwork.objects.get(pk=response.json()["artworks"][0]["id"])
    assert second.status == Artwork.Status.DONE  # born done: nothing enqueued
    assert second.result.name == first.result.name
    assert queue.count == 0
    # Another recipe of the same clip is rendered.
    remix = owner_client.post(
        reverse("gallery:api_artworks"), {"photo": first.photo_id, "style": "oil"}
    )
    assert _done(run_worker, remix).result.name != first.result.name


def test_a_video_job_gets_a_timeout_from_its_duration(owner_client, settings, queue):
    settings.STUDIO_JOB_TIMEOUT = 100
    settings.STUDIO_VIDEO_TIMEOUT_PER_SECOND = 7
    response = _upload_clip(owner_client, clip_bytes(seconds=2.0))
    artwork = Artwork.objects.select_related("photo").get(
        pk=response.json()["artworks"][0]["id"]
    )
    job = get_queue().fetch_job(artwork.job_id)
    assert job.timeout == 100 + math.ceil(7 * artwork.photo.duration)
    photo = owner_client.post(
        reverse("gallery:api_artworks"), {"image": upload_file(), "style": "pencil"}
    )
    photo_job = get_queue().fetch_job(
        Artwork.objects.get(pk=photo.json()["artworks"][0]["id"]).job_id
    )
    assert photo_job.timeout == 100


# Media: byte ranges -------------------------------------------------------------


def _result(client, artwork, **headers):
    url = reverse("gallery:artwork_media", args=[artwork.pk, "result"])
    return client.get(url, headers=headers)


def test_a_range_request_gets_206_with_that_part(owner_client, video_artwork):
    whole = _body(_result(owner_client, video_artwork))
    size = len(whole)
    part = _result(owner_client, video_artwork, Range="bytes=0-99")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 0-99/{size}"
    assert part["Content-Length"] == "100"
    assert part["Accept-Ranges"] == "bytes"
    assert _body(part) == whole[:100]
    middle = _result(owner_client, video_artwork, Range=f"bytes=100-{size + 50}")
    assert middle.status_code == 206 and _body(middle) == whole[100:]
    assert middle["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    tail = _result(owner_client, video_artwork, Range="bytes=-10")
    assert tail.status_code == 206 and _body(tail) == whole[-10:]
    open_ended = _result(owner_client, video_artwork, Range=f"bytes={size - 5}-")
    assert _body(open_ended) == whole[-5:]


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes=50-10", "bytes=-0"])
def test_a_range_outside_the_file_is_416(owner_client, video_artwork, header):
    size = video_artwork.result_bytes
    response = _result(owner_client, video_artwork, Range=header.format(size=size))
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize(
    "header",
    [
        "pages=0-10",
        "bytes=0-10,20-30",
        "bytes=x-",
        # Positions longer than any file (Python refuses int() of over 4300
        # digits: this was a 500).
        "bytes=" + "9" * 5000 + "-",
        "bytes=0-" + "9" * 5000,
        "bytes=-" + "9" * 5000,
    ],
    ids=["unit", "several", "letters", "huge-first", "huge-last", "huge-suffix"],
)
def test_a_range_this_server_does_not_take_gets_the_whole_file(
    owner_client, video_artwork, header
):
    response = _result(owner_client, video_artwork, Range=header)
    assert response.status_code == 200
    assert len(_body(response)) == video_artwork.result_bytes


def test_ranges_keep_the_access_check(owner_client, other_client, video_artwork):
    assert _result(other_client, video_artwork, Range="bytes=0-9").status_code == 404
    assert _result(Client(), video_artwork, Range="bytes=0-9").status_code == 404
    services.artwork_set_public(video_artwork, True)
    shown = _result(Client(), video_artwork, Range="bytes=0-9")
    assert shown.status_code == 206 and len(_body(shown)) == 10
    # The original stays its owner's.
    url = reverse("gallery:artwork_media", args=[video_artwork.pk, "original"])
    assert Client().get(url, headers={"Range": "bytes=0-9"}).status_code == 404
    original = owner_client.get(url, headers={"Range": "bytes=0-9"})
    assert original.status_code == 206 and original["Content-Type"] == "video/mp4"


def test_photos_answer_ranges_too(owner_client, queue, run_worker):
    artwork = _done(
        run_worker,
        owner_client.post(
            reverse("gallery:api_artworks"), {"image": upload_file(), "style": "pencil"}
        ),
    )
    response = _result(owner_client, artwork, Range="bytes=0-1")
    assert response.status_code == 206 and _body(response) == b"\xff\xd8"


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_a_video_refuses_format_conversion(owner_client, video_artwork, fmt):
    url = reverse("gallery:artwork_media", args=[video_artwork.pk, "result"])
    response = owner_client.get(f"{url}?format={fmt}&download=1")
    assert response.status_code == 400
    assert response.json()["field"] == "format"


def test_a_video_downloads_as_mp4(owner_client, video_artwork):
    url = reverse("gallery:artwork_media", args=[video_artwork.pk, "result"])
    response = owner_client.get(f"{url}?download=1")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert f'artwork-{video_artwork.pk}-pencil.mp4"' in response["Content-Disposition"]


def test_the_animation_kind_is_404_for_a_video(owner_client, video_artwork):
    url = reverse("gallery:artwork_media", args=[video_artwork.pk, "animation"])
    assert owner_client.get(url).status_code == 404


def test_the_openapi_schema_describes_the_video_fields(client):
    schema = client.get(reverse("gallery:api_schema")).json()
    artwork = schema["components"]["schemas"]["ArtworkOut"]
    for name in ("media", "duration", "frames", "animation_url"):
        assert name in artwork["properties"] and name in artwork["required"]
    assert "null for photos" in artwork["properties"]["frames"]["description"]


def test_a_preview_of_a_stored_video_is_refused_clearly(owner_client, video_artwork):
    response = owner_client.post(
        reverse("gallery:api_preview"),
        {"photo": video_artwork.photo_id, "style": "pencil"},
    )
    assert response.status_code == 400
    assert response.json()["field"] == "photo"
    assert "video" in response.json()["error"]


def test_a_preview_of_a_stored_animation_shows_its_first_frame(
    owner_client, queue, run_worker
):
    artwork = _done(
        run_worker,
        _upload_clip(owner_client, animation_bytes(), "loop.gif"),
    )
    response = owner_client.post(
        reverse("gallery:api_preview"), {"photo": artwork.photo_id, "style": "pencil"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_a_video_goes_into_the_zip_download_as_mp4(owner_client, video_artwork):
    response = owner_client.get(
        f"{reverse('gallery:api_artworks_zip')}?ids={video_artwork.pk}"
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(_body(response)))
    name = f"pencil-{video_artwork.pk}.mp4"
    assert name in archive.namelist()
    assert len(archive.read(name)) == video_artwork.result_bytes
