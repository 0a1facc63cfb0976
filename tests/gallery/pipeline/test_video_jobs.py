"""Render jobs of videos and animations: frame progress and its ETA,
temporary files, failures, and the files that follow the rows."""

from __future__ import annotations

import tempfile
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.urls import reverse
from django.utils import timezone
from rq.job import Job

from gallery import services
from gallery.models import Artwork
from gallery.pipeline import moving
from gallery.pipeline.progress import (
    artwork_progress,
    frame_seconds_left,
    recent_job_seconds,
)
from gallery.pipeline.queue import get_queue
from tests.conftest import create_artworks, stored_files
from tests.gallery.clips import animation_bytes, clip_bytes, clip_upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary files of the job go here, to be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _upload(client, data: bytes, name: str = "clip.mp4", style: str = "pencil"):
    response = client.post(
        reverse("gallery:api_artworks"),
        {"image": clip_upload(data, name), "style": style},
    )
    assert response.status_code == 202, response.content
    return Artwork.objects.select_related("photo").get(
        pk=response.json()["artworks"][0]["id"]
    )


def test_the_job_reports_frames_and_their_rate(
    owner_client, queue, run_worker, private_tmp
):
    artwork = _upload(owner_client, clip_bytes(seconds=1.0, fps=10))
    run_worker()
    meta = Job.fetch(artwork.job_id, connection=queue.connection).meta
    assert meta["stage"] == "done" and meta["progress"] == 100
    assert meta["frames_done"] == meta["frames_total"] == 10
    assert meta["frame_rate"] > 0
    assert list(private_tmp.iterdir()) == []  # the temporary folder is gone


def test_frame_progress_reports_percent_counts_and_rate():
    calls = []
    now = [100.0]
    tracker = moving.FrameProgress(
        lambda stage, percent, **extra: calls.append((stage, percent, extra)),
        clock=lambda: now[0],
    )
    now[0] = 102.0
    tracker(10, 40)
    now[0] = 102.1
    tracker(11, 40)  # too soon after the last report: skipped
    now[0] = 104.0
    tracker(20, 40)
    now[0] = 104.01
    tracker(40, 40)  # the last frame is always reported
    assert [c[1] for c in calls] == [
        moving.FIRST_PERCENT + (moving.LAST_PERCENT - moving.FIRST_PERCENT) // 4,
        moving.FIRST_PERCENT + (moving.LAST_PERCENT - moving.FIRST_PERCENT) // 2,
        moving.LAST_PERCENT,
    ]
    assert {c[0] for c in calls} == {"rendering"}
    assert calls[0][2] == {"frames_done": 10, "frames_total": 40, "frame_rate": 5.0}
    assert calls[1][2]["frame_rate"] == 5.0


def test_the_eta_of_a_video_comes_from_its_frame_rate(owner_client, queue):
    artwork = _upload(owner_client, clip_bytes())
    job = Job.fetch(artwork.job_id, connection=queue.connection)
    job.meta.update(
        stage="rendering", progress=30, frames_done=25, frames_total=100, frame_rate=5
    )
    job.save_meta()
    Artwork.objects.filter(pk=artwork.pk).update(status=Artwork.Status.PROCESSING)
    artwork.refresh_from_db()
    state = artwork_progress(artwork)
    assert (state["stage"], state["progress"]) == ("rendering", 30)
    expected = 75 / 5 + 2  # frames left at the measured rate, then storing
    assert state["eta_seconds"] == round(expected)


@pytest.mark.parametrize(
    "meta",
    [{}, {"frames_done": 0, "frames_total": 10, "frame_rate": 0},
     {"frames_done": "x", "frames_total": 10, "frame_rate": 1}],
)  # fmt: skip
def test_no_frame_rate_means_no_frame_eta(meta):
    assert frame_seconds_left(meta) is None


def test_a_clip_that_turns_out_bad_fails_with_the_engines_message(
    owner_client, queue, run_worker, media_root, private_tmp
):
    """The header passed at upload; the stored file no longer decodes (a
    file that lies about itself is found out the same way, mid-render)."""
    artwork = _upload(owner_client, clip_bytes())
    data = clip_bytes()
    name = artwork.photo.original.name
    default_storage.delete(name)
    default_storage.save(name, ContentFile(data[: len(data) // 2]))
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED
    assert artwork.error and "went wrong" not in artwork.error
    assert not artwork.result and not artwork.thumbnail
    assert [f for f in stored_files(media_root) if not f.startswith("originals/")] == []
    assert list(private_tmp.iterdir()) == []


def test_a_failed_save_leaves_no_file_behind(
    owner_client, queue, run_worker, media_root, monkeypatch
):
    artwork = _upload(owner_client, animation_bytes(), "loop.gif")
    real_save = FileSystemStorage.save
    calls = []

    def failing_save(storage, name, content, *args, **kwargs):
        calls.append(name)
        if name.endswith(".webp"):  # the third file: result and thumb exist
            raise OSError("disk full")
        return real_save(storage, name, content, *args, **kwargs)

    monkeypatch.setattr(FileSystemStorage, "save", failing_save)
    run_worker()
    artwork.refresh_from_db()
    assert len(calls) == 3
    assert artwork.status == Artwork.Status.FAILED
    assert [f for f in stored_files(media_root) if not f.startswith("originals/")] == []


def test_an_animations_files_follow_its_row(
    owner_client, queue, run_worker, media_root
):
    artwork = _upload(owner_client, animation_bytes(), "loop.gif")
    run_worker()
    artwork.refresh_from_db()
    assert artwork.animation.name.endswith(".webp")
    assert artwork.animation.name in stored_files(media_root)
    services.artwork_delete(artwork)
    assert stored_files(media_root) == []


def test_a_rerender_replaces_the_animation(owner_client, queue, run_worker, media_root):
    artwork = _upload(owner_client, animation_bytes(), "loop.gif")
    run_worker()
    artwork.refresh_from_db()
    old = artwork.animation.name
    assert services.artwork_rerender(artwork)
    assert old not in stored_files(media_root)
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE and artwork.animation
    assert artwork.animation_bytes > 0


def test_animations_count_against_the_quota(owner_client, owner, queue, run_worker):
    from gallery import limits

    artwork = _upload(owner_client, animation_bytes(), "loop.gif")
    run_worker()
    artwork.refresh_from_db()
    used = limits.bytes_used_by(owner)
    assert used == (
        artwork.photo.byte_size
        + artwork.result_bytes
        + artwork.thumbnail_bytes
        + artwork.animation_bytes
    )
    assert get_queue().count == 0


def test_video_renders_leave_the_photo_estimate_alone(owner_client, queue):
    video = _upload(owner_client, clip_bytes())
    (photo,) = create_artworks(video.owner)
    now = timezone.now()
    for artwork, seconds in ((video, 300), (photo, 3)):
        Artwork.objects.filter(pk=artwork.pk).update(
            status=Artwork.Status.DONE,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    cache.delete("studio:recent-job-seconds")
    assert recent_job_seconds() == pytest.approx(3)
