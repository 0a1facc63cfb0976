"""recover_jobs: lost jobs are enqueued again, stuck rows are failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

import processing
from gallery import services
from gallery.models import Artwork
from gallery.recovery import WORKER_LOST
from gallery.services import Recipe
from tests.conftest import upload_file

pytestmark = pytest.mark.django_db(transaction=True)


def _create(owner):
    upload = upload_file()
    recipe = Recipe("pencil", processing.validate_params("pencil", {}))
    return services.artworks_create(
        owner, upload, processing.inspect(upload), [recipe]
    )[0]


def test_queued_without_job_is_enqueued_and_completes(owner, queue, run_worker, capsys):
    artwork = _create(owner)
    queue.connection.flushdb()  # Redis lost the job (or was down at upload)
    call_command("recover_jobs", "--dry-run")
    assert "would enqueue 1" in capsys.readouterr().out
    assert queue.count == 0
    call_command("recover_jobs")
    assert queue.count == 1
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE
    call_command("recover_jobs")
    assert queue.count == 0  # nothing left to do, nothing runs twice


def test_live_queued_job_is_not_duplicated(owner, queue):
    _create(owner)
    call_command("recover_jobs")
    assert queue.count == 1


def test_stuck_processing_row_is_failed_with_reason(owner, queue):
    artwork = _create(owner)
    Artwork.objects.filter(pk=artwork.pk).update(
        status=Artwork.Status.PROCESSING, started_at=timezone.now() - timedelta(hours=1)
    )
    call_command("recover_jobs")
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED
    assert artwork.error == WORKER_LOST
