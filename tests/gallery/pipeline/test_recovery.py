"""recover_jobs: lost jobs are enqueued again, stuck rows are failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rq import Worker
from rq.job import Job, JobStatus
from rq.utils import utcformat

from gallery.models import Artwork
from gallery.pipeline import jobs
from gallery.pipeline.recovery import WORKER_LOST
from tests.conftest import create_artworks

pytestmark = pytest.mark.django_db(transaction=True)


def test_queued_without_job_is_enqueued_and_completes(owner, queue, run_worker, capsys):
    artwork = create_artworks(owner)[0]
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
    create_artworks(owner)[0]
    call_command("recover_jobs")
    assert queue.count == 1


def test_stuck_processing_row_is_failed_with_reason(owner, queue):
    artwork = create_artworks(owner)[0]
    Artwork.objects.filter(pk=artwork.pk).update(
        status=Artwork.Status.PROCESSING, started_at=timezone.now() - timedelta(hours=1)
    )
    call_command("recover_jobs")
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED
    assert artwork.error == WORKER_LOST


def _started_on_another_machine(artwork, queue) -> Worker:
    """The artwork's job started by a worker on another host, as Redis
    shows it: the worker's pid means nothing here, only its heartbeat."""
    artwork.refresh_from_db()  # the job id is recorded after the commit
    worker = Worker([queue], connection=queue.connection, name="remote-worker")
    worker.hostname = "another-machine"
    worker.pid = 4_194_303  # no process here has it: it is another host's pid
    worker.register_birth()
    job = Job.fetch(artwork.job_id, connection=queue.connection)
    queue.remove(job)
    job.worker_name = worker.name
    job.set_status(JobStatus.STARTED)
    job.save()
    worker.set_current_job_id(job.id)
    assert jobs.claim(artwork.pk, job.id)
    return worker


def test_job_of_a_remote_worker_with_a_fresh_heartbeat_is_left_alone(owner, queue):
    artwork = create_artworks(owner)[0]
    worker = _started_on_another_machine(artwork, queue)
    worker.heartbeat()
    call_command("recover_jobs")
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.PROCESSING
    assert queue.count == 0  # not enqueued a second time


def test_job_of_a_remote_worker_whose_heartbeat_stopped_is_rendered_again(
    owner, queue, run_worker, settings
):
    artwork = create_artworks(owner)[0]
    worker = _started_on_another_machine(artwork, queue)
    silent_since = timezone.now() - timedelta(
        seconds=settings.STUDIO_WORKER_DEAD_AFTER + 5
    )
    queue.connection.hset(worker.key, "last_heartbeat", utcformat(silent_since))
    call_command("recover_jobs")
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.QUEUED and queue.count == 1
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE
