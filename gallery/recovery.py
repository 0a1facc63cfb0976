"""The sweeper: finds artworks whose job was lost and puts them right.

Callbacks cover the usual failures; this covers everything they can miss:
an upload made while Redis was down, a Redis that lost its data, a worker
killed so hard that no callback ran.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rq.job import Job, JobStatus

from gallery import services
from gallery.models import Artwork

logger = logging.getLogger(__name__)

WORKER_LOST = "The worker stopped while rendering this artwork. Please try again."
_DEAD_JOB_STATES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


@dataclass
class RecoveryReport:
    enqueued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def _job_status(job_id: str, connection) -> JobStatus | None:
    if not job_id:
        return None
    try:
        return Job.fetch(job_id, connection=connection).get_status()
    except Exception:  # NoSuchJobError, or data that no longer deserialises
        return None


def recover_jobs(*, dry_run: bool = False, grace_seconds: int = 60) -> RecoveryReport:
    """Enqueue queued artworks that have no live job; fail stuck processing ones.

    A processing artwork is stuck when its job is gone or dead, or when it
    started longer ago than the job timeout plus ``grace_seconds``.

    Raises ``RedisError`` when Redis cannot be reached: nothing is changed then.
    """
    report = RecoveryReport()
    connection = services.get_queue().connection
    connection.ping()
    for artwork in Artwork.objects.filter(status=Artwork.Status.QUEUED).only(
        "pk", "job_id"
    ):
        status = _job_status(artwork.job_id, connection)
        if status is None or status in _DEAD_JOB_STATES:
            report.enqueued.append(artwork.pk)
            if not dry_run:
                services.enqueue_render(artwork.pk)
    deadline = timezone.now() - timedelta(
        seconds=settings.STUDIO_JOB_TIMEOUT + grace_seconds
    )
    for artwork in Artwork.objects.filter(status=Artwork.Status.PROCESSING).only(
        "pk", "job_id", "started_at"
    ):
        status = _job_status(artwork.job_id, connection)
        too_old = artwork.started_at is not None and artwork.started_at < deadline
        if status is None or status in _DEAD_JOB_STATES or too_old:
            report.failed.append(artwork.pk)
            if not dry_run:
                services.artwork_mark_failed(artwork.pk, WORKER_LOST)
    return report
