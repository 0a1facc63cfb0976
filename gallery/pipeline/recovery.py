"""The sweeper: finds artworks whose job was lost and puts them right.

Callbacks and the worker's work-horse-killed handler cover the usual
failures; this covers everything they can miss: an upload made while Redis
was down, a Redis that lost its data, a whole worker killed so hard that no
code of its own ran (SIGKILL, a container's memory limit, a lost machine).

It runs as ``manage.py recover_jobs`` (``--every N`` to loop), every minute
in the compose ``scheduler`` service and in a loop started by ``make run``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import clean_registries

from gallery.models import Artwork
from gallery.pipeline.jobs import WORKER_LOST, fail_for_job
from gallery.pipeline.queue import enqueue_waiting, get_queue

logger = logging.getLogger(__name__)

__all__ = [
    "WORKER_LOST",
    "RecoveryReport",
    "enqueue_overdue_scheduled",
    "recover_jobs",
]

# Job states in which a job will still run (or is running) by itself.
_LIVE_QUEUED_STATES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


# A live RQ scheduler moves due jobs to the queue within a second; a retry
# this late means no scheduler is running for the queue (issue 11, item 12).
SCHEDULED_OVERDUE_SECONDS = 10


@dataclass
class RecoveryReport:
    enqueued: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)


def enqueue_overdue_scheduled(
    queue, *, overdue_seconds: int = SCHEDULED_OVERDUE_SECONDS
) -> list[str]:
    """Move scheduled jobs (delayed retries) that are overdue by more than
    ``overdue_seconds`` to the queue, as RQ's scheduler would; return their
    ids.

    The scheduler runs inside one worker and dies with its Redis connection;
    RQ starts it again only in the worker's maintenance pass (every 10
    minutes), or another worker takes over once the dead one's lock expires.
    Meanwhile a retried artwork waits in the ScheduledJobRegistry, queued.
    Each job is taken out of the registry first (ZREM answers 1 to one
    caller only), so a scheduler that comes back at the same moment does not
    enqueue it as well; a duplicate would be harmless anyway (a render finds
    its row taken and does nothing).
    """
    registry = queue.scheduled_job_registry
    cutoff = int(time.time()) - overdue_seconds
    moved = []
    for job_id in registry.get_jobs_to_schedule(cutoff):
        if not registry.remove(job_id):
            continue  # the scheduler took it meanwhile
        job = _fetch(job_id, queue.connection)
        if job is None:
            continue  # expired or deleted: the sweep below covers its artwork
        queue._enqueue_job(job, at_front=job.should_enqueue_at_front())
        moved.append(job_id)
    if moved:
        logger.warning("enqueued %d overdue scheduled job(s): %s", len(moved), moved)
    return moved


def _fetch(job_id: str, connection) -> Job | None:
    if not job_id:
        return None
    try:
        return Job.fetch(job_id, connection=connection)
    except Exception:  # NoSuchJobError, or data that no longer deserialises
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_alive(name: str | None, job_id: str, connection) -> bool:
    """Is the worker that started this job still working on it?

    On the same host a dead pid settles it at once; elsewhere a heartbeat
    older than ``STUDIO_WORKER_DEAD_AFTER`` does (rq beats during a job).
    """
    if not name:
        return False
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + name, connection=connection
    )
    if worker is None:
        return False
    if worker.hostname == socket.gethostname() and worker.pid:
        if not _pid_alive(worker.pid):
            return False
    cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_WORKER_DEAD_AFTER)
    if worker.last_heartbeat is None or worker.last_heartbeat < cutoff:
        return False
    current = worker.get_current_job_id()
    return current is None or current == job_id


def _processing_job_alive(job: Job | None, connection) -> bool:
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status in _LIVE_QUEUED_STATES:
        return True  # an RQ retry is pending: it will run and take the row
    if status != JobStatus.STARTED:
        return False
    return _worker_alive(job.worker_name, job.id, connection)


def _requeue_or_fail(artwork: Artwork, report: RecoveryReport, dry_run: bool) -> None:
    if artwork.attempts >= settings.STUDIO_JOB_MAX_ATTEMPTS:
        report.failed.append(artwork.pk)
        if not dry_run:
            fail_for_job(artwork.pk, None, str(WORKER_LOST))
            enqueue_waiting(artwork.owner_id)
        return
    report.requeued.append(artwork.pk)
    if dry_run:
        return
    # Compare-and-set on the job id we judged dead: if the job moved on in
    # the meantime, leave the row alone.
    changed = Artwork.objects.filter(
        pk=artwork.pk, status=Artwork.Status.PROCESSING, job_id=artwork.job_id
    ).update(
        status=Artwork.Status.QUEUED,
        job_id="",
        queued_at=timezone.now(),
        error="",
    )
    if changed:
        enqueue_waiting(artwork.owner_id)


def recover_jobs(
    *, dry_run: bool = False, grace_seconds: int = 60, min_age_seconds: int = 0
) -> RecoveryReport:
    """Enqueue queued artworks that have no live job; recover stuck ones.

    A queued artwork without a live job (none recorded, or one Redis no
    longer holds or that ended) is enqueued, once it is older than
    ``min_age_seconds`` (younger ones may be between commit and enqueue).

    A processing artwork is stuck when its job is gone or ended, when the
    worker running it is dead, or when it started longer ago than the job
    timeout plus ``grace_seconds``. It is queued again while it has attempts
    left (``STUDIO_JOB_MAX_ATTEMPTS``), else failed with a reason.

    Raises ``RedisError`` when Redis cannot be reached: nothing is changed then.
    """
    report = RecoveryReport()
    queue = get_queue()
    connection = queue.connection
    connection.ping()
    if not dry_run:
        report.scheduled = enqueue_overdue_scheduled(queue)
    if not dry_run:
        try:
            # What workers do every few minutes: abandoned started jobs go
            # through the (guarded) failure callback; expired entries go.
            clean_registries(queue)
        except RedisError:
            raise
        except Exception:
            logger.warning("registry cleanup failed", exc_info=True)
    now = timezone.now()
    young = now - timedelta(seconds=min_age_seconds)
    queued = Artwork.objects.filter(status=Artwork.Status.QUEUED).filter(
        Q(queued_at__isnull=True) | Q(queued_at__lte=young)
    )
    without_job: dict[int, list[int]] = {}
    for artwork in queued.only("pk", "job_id", "owner_id").order_by("queued_at", "pk"):
        job = _fetch(artwork.job_id, connection)
        if job is not None:
            status = job.get_status(refresh=False)
            if status in _LIVE_QUEUED_STATES:
                continue
            if status == JobStatus.STARTED and _worker_alive(
                job.worker_name, job.id, connection
            ):
                continue  # started a moment ago, about to mark it processing
        if artwork.job_id and not dry_run:
            # A job Redis lost, or one that ended: the row waits its turn.
            Artwork.objects.filter(
                pk=artwork.pk, status=Artwork.Status.QUEUED, job_id=artwork.job_id
            ).update(job_id="")
        without_job.setdefault(artwork.owner_id, []).append(artwork.pk)
    # The fair queue: each owner's oldest waiting artworks, up to their share.
    for owner_id, waiting in sorted(without_job.items()):
        if not dry_run:
            report.enqueued += enqueue_waiting(owner_id)
            continue
        running = Artwork.objects.filter(owner_id=owner_id).unfinished().count()
        free = settings.STUDIO_QUEUE_SHARE - (running - len(waiting))
        report.enqueued += waiting[: max(0, free)]
    deadline = now - timedelta(seconds=settings.STUDIO_JOB_TIMEOUT + grace_seconds)
    processing = Artwork.objects.filter(status=Artwork.Status.PROCESSING)
    for artwork in processing.only(
        "pk", "job_id", "started_at", "attempts", "owner_id"
    ):
        job = _fetch(artwork.job_id, connection)
        too_old = artwork.started_at is not None and artwork.started_at < deadline
        if too_old:
            report.failed.append(artwork.pk)
            if not dry_run:
                fail_for_job(artwork.pk, None, str(WORKER_LOST))
                enqueue_waiting(artwork.owner_id)
        elif not _processing_job_alive(job, connection):
            _requeue_or_fail(artwork, report, dry_run)
    return report
