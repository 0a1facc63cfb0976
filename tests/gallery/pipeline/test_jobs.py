"""The job path: a real rq worker renders uploads; enqueue follows commits."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from PIL import Image

import processing
from gallery import services
from gallery.models import Artwork, Photo
from gallery.pipeline import jobs
from gallery.pipeline.jobs import render_artwork
from tests.conftest import create_artworks, image_bytes, stored_files, upload_file

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_then_real_worker_renders_it(owner_client, queue, run_worker):
    data = image_bytes(width=400, height=300)
    response = owner_client.post(
        reverse("gallery:upload"),
        {"image": upload_file(data), "style": ["watercolor"]},
    )
    artwork = Artwork.objects.get()
    assert response.status_code == 302
    assert response["Location"] == artwork.get_absolute_url()
    assert artwork.status == Artwork.Status.QUEUED
    assert queue.count == 1

    run_worker()

    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert artwork.started_at and artwork.finished_at
    with artwork.result.open("rb") as fh:
        result = np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"))
    assert result.shape == (300, 400, 3)
    original = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.abs(result.astype(int) - original.astype(int)).mean() > 5
    with artwork.thumbnail.open("rb") as fh:
        assert max(Image.open(fh).size) <= 480


def test_every_style_renders(owner, queue, run_worker):
    artworks = create_artworks(owner, styles=tuple(processing.STYLES))
    run_worker()
    for artwork in artworks:
        artwork.refresh_from_db()
        assert artwork.status == Artwork.Status.DONE, (artwork.style, artwork.error)
        assert artwork.params == processing.validate_params(artwork.style, {})
        assert artwork.engine_version == processing.style_version(artwork.style)


def test_rolled_back_transaction_never_enqueues(owner, queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        create_artworks(owner)
        raise RuntimeError("roll back")
    assert queue.count == 0
    assert not Artwork.objects.exists()


def test_committed_transaction_enqueues_exactly_once(owner, queue):
    with transaction.atomic():
        artworks = create_artworks(owner, styles=("pencil", "oil"))
        assert queue.count == 0  # not before the commit
    assert queue.count == 2
    job_ids = set(queue.job_ids)
    for artwork in artworks:
        artwork.refresh_from_db()
        assert artwork.job_id in job_ids


def test_job_is_idempotent(owner, queue, run_worker, media_root):
    (artwork,) = create_artworks(owner)
    run_worker()
    artwork.refresh_from_db()
    files = stored_files(media_root)
    assert render_artwork(artwork.pk) == "done"
    artwork_after = Artwork.objects.get(pk=artwork.pk)
    assert artwork_after.result.name == artwork.result.name
    assert stored_files(media_root) == files


def test_failed_mark_never_flips_a_done_row(owner, queue, run_worker):
    (artwork,) = create_artworks(owner)
    run_worker()
    assert jobs.fail_for_job(artwork.pk, None, "late callback") is False
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE
    assert artwork.error == ""


def test_original_damaged_after_upload_fails_with_reason(owner, queue, run_worker):
    (artwork,) = create_artworks(owner)
    with artwork.photo.original.open("wb") as fh:
        fh.write(b"not an image any more")
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED
    assert artwork.error and "Traceback" not in artwork.error


def test_missing_row_is_a_no_op(queue):
    assert render_artwork(987654) == "missing"


def test_delete_removes_files_and_photo(owner, queue, run_worker, media_root):
    artworks = create_artworks(owner, styles=("pencil", "cartoon"))
    run_worker()
    first, second = (Artwork.objects.get(pk=a.pk) for a in artworks)
    services.artwork_delete(first)
    assert Photo.objects.count() == 1
    # original + its preview proxy + second's two files
    assert len(stored_files(media_root)) == 4
    assert any(name.startswith("previews/") for name in stored_files(media_root))
    services.artwork_delete(second)
    assert not Photo.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.slow
def test_50_megapixel_upload_is_rendered_at_the_working_size(
    owner_client, queue, run_worker, settings
):
    # 8656 x 5776 = 49.997 MP, the default STUDIO_MAX_PIXELS: accepted, then
    # rendered at STUDIO_WORK_PIXELS (12 MP) with the aspect ratio kept.
    width, height = 8656, 5776
    assert width * height <= settings.STUDIO_MAX_PIXELS
    data = image_bytes(width=width, height=height, quality=80)
    response = owner_client.post(
        reverse("gallery:api_artworks"),
        {"image": upload_file(data, "huge.jpg"), "style": "pencil"},
    )
    assert response.status_code == 202, response.content
    run_worker()
    artwork = Artwork.objects.get()
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert (artwork.photo.width, artwork.photo.height) == (width, height)
    with artwork.result.open("rb") as fh:
        result_size = Image.open(io.BytesIO(fh.read())).size
    assert result_size[0] * result_size[1] <= settings.STUDIO_WORK_PIXELS
    assert result_size[0] * result_size[1] > 0.9 * settings.STUDIO_WORK_PIXELS
    assert abs(result_size[0] / result_size[1] - width / height) < 0.01


def test_every_stage_the_job_reports_has_a_translated_label():
    source = Path(jobs.__file__).read_text()
    reported = set(re.findall(r'_report\("(\w+)"', source))
    assert {"decoding", "rendering", "saving", "done"} <= reported
    assert reported <= set(jobs.STAGES)
    with translation.override("zh-hans"):
        for stage, label in jobs.STAGES.items():
            assert str(label) != stage and re.search(r"[\u4e00-\u9fff]", str(label))


def test_job_gives_the_decoders_heap_back_before_rendering(owner, queue, monkeypatch):
    # The decoder's freed blocks stay in glibc's heap: a 12 MP job rendered on
    # top of ~50 MB it no longer used (issue 14, round 2).
    from gallery.pipeline import memory

    (artwork,) = create_artworks(owner)
    events = []
    decode, render = processing.decode, processing.render
    monkeypatch.setattr(memory, "release_heap", lambda: events.append("release"))
    monkeypatch.setattr(
        processing, "decode", lambda *a, **k: events.append("decode") or decode(*a, **k)
    )
    monkeypatch.setattr(
        processing, "render", lambda *a, **k: events.append("render") or render(*a, **k)
    )
    assert render_artwork(artwork.pk) == "done"
    assert events == ["decode", "release", "render"]
