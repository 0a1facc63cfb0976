"""Delayed retries after a Redis outage (issue 11, item 12).

A retry with a delay waits in RQ's ScheduledJobRegistry until a scheduler
moves it to the queue. The scheduler process that ``--with-scheduler`` runs
dies when Redis restarts, and RQ started it again only in its 10-minute
maintenance pass; the artwork stayed queued all that time. Now the worker
revives its scheduler within seconds, and the sweeper moves overdue
scheduled jobs itself.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job

from gallery.models import Artwork
from gallery.pipeline.recovery import (
    SCHEDULED_OVERDUE_SECONDS,
    enqueue_overdue_scheduled,
    recover_jobs,
)
from tests.faults.conftest import make_artwork, wait_for
from tests.faults.helpers import render_after

pytestmark = pytest.mark.django_db(transaction=True)


def test_retry_after_a_redis_restart_runs_within_a_minute(owner, studio):
    studio.start_worker()
    connection = studio.queue.connection
    wait_for(
        lambda: connection.exists("rq:scheduler-lock:default"), 30, "the scheduler"
    )
    # Redis goes away long enough for the scheduler's connection to fail,
    # and comes back empty (no persistence here): every lock is gone too.
    studio.redis.stop()
    time.sleep(3)
    studio.redis.start()

    artwork = make_artwork(owner, seed=40)
    job_id = wait_for(
        lambda: _enqueue_when_redis_answers(studio, artwork.pk), 30, "Redis back"
    )
    pid = wait_for(lambda: studio.job_meta(job_id).get("pid"), 30, "the horse pid")
    studio.wait_status(artwork.pk, {Artwork.Status.PROCESSING}, 10)
    os.kill(pid, signal.SIGKILL)  # after Redis came back, as in the report

    # The worker settled the row and RQ scheduled the retry (+1 s); only a
    # running scheduler (or the sweeper, not run here) can release it.
    artwork = studio.wait_status(
        artwork.pk, {Artwork.Status.DONE, Artwork.Status.FAILED}, 60
    )
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert artwork.attempts >= 2


def _enqueue_when_redis_answers(studio, artwork_id: int) -> str | None:
    try:
        studio.queue.connection.ping()
    except Exception:
        return None
    return studio.enqueue(render_after, artwork_id, 2)


def _scheduled_job(studio, artwork_id: int, due: datetime) -> Job:
    """A render retry waiting in the scheduled registry, due at ``due``."""
    job_id = studio.enqueue(render_after, artwork_id, 0)
    queue = studio.queue
    job = Job.fetch(job_id, connection=queue.connection)
    queue.remove(job)
    queue.scheduled_job_registry.schedule(job, due)
    job.set_status("scheduled")
    return job


def test_sweeper_enqueues_overdue_scheduled_retries(owner, studio):
    """No scheduler at all (every worker's died, or its lock is held by a
    dead one): the sweeper moves what is overdue, and only that."""
    now = datetime.now(UTC)
    overdue = _scheduled_job(
        studio, make_artwork(owner, seed=41).pk, now - timedelta(seconds=60)
    )
    recent = _scheduled_job(
        studio,
        make_artwork(owner, seed=42).pk,
        now - timedelta(seconds=SCHEDULED_OVERDUE_SECONDS // 2),
    )
    future = _scheduled_job(
        studio, make_artwork(owner, seed=43).pk, now + timedelta(seconds=300)
    )
    queue = studio.queue
    assert queue.count == 0

    report = recover_jobs()

    assert report.scheduled == [overdue.id]
    assert queue.job_ids == [overdue.id]
    registry = queue.scheduled_job_registry
    assert set(registry.get_job_ids()) == {recent.id, future.id}
    # Its artwork was not enqueued a second time by the sweep itself.
    assert report.enqueued == []
    assert enqueue_overdue_scheduled(queue) == []  # nothing twice


def test_sweeper_retry_is_rendered(owner, studio):
    artwork = make_artwork(owner, seed=44)
    _scheduled_job(studio, artwork.pk, datetime.now(UTC) - timedelta(minutes=5))
    recover_jobs()
    studio.start_worker()
    artwork = studio.wait_status(artwork.pk, {Artwork.Status.DONE}, 60)
    assert artwork.result
