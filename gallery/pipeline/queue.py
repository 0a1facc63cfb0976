"""The render queue: its connection, its handle, and putting jobs on it.

Services and jobs enqueue here, never through rq or django-rq directly, so
that every render job carries the same options (timeout, bounded retry,
failure callbacks: :func:`render_job_options`) and a Redis outage at upload
time is handled in one place.

The queue is fair: a user's artworks go onto the queue at most
``STUDIO_QUEUE_SHARE`` at a time, and each one finished (done, failed or
reused) lets that user's next one on (:func:`enqueue_waiting`). The others
wait as queued rows without a job. So one user's backlog of hundreds never
delays another user's first artwork by more than about that many job
lengths: the queue holds a few of each user's, in the order they came.

Job functions are named by their dotted path: the job module enqueues the
next artwork itself, so this module must not import it.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid

import django_rq
from django.conf import settings
from django.db.models import Q
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from gallery.models import Artwork

logger = logging.getLogger(__name__)


_queues: dict[str, Queue] = {}
_queues_lock = threading.Lock()


def get_queue() -> Queue:
    """The studio's render queue (``STUDIO_QUEUE``) on the queue Redis.

    One ``Queue`` (and so one Redis connection pool) per configuration and
    process: django-rq builds a new client, and so opens a new connection,
    on every call, and rq's queue asks the server's version (``INFO``) once
    per object; a status poll paid both on every request.
    """
    name = settings.STUDIO_QUEUE
    key = f"{name}:{settings.RQ_QUEUES.get(name)!r}"
    queue = _queues.get(key)
    if queue is None:
        with _queues_lock:
            queue = _queues.get(key) or django_rq.get_queue(name)
            _queues[key] = queue
    return queue


RENDER_JOB = "gallery.pipeline.jobs.render_artwork"


def retry_delays() -> list[int]:
    return list(settings.STUDIO_JOB_RETRY_DELAYS) or [0]


def job_timeout(duration: float | None = None) -> int:
    """Seconds a render job may run: ``STUDIO_JOB_TIMEOUT``, plus
    ``STUDIO_VIDEO_TIMEOUT_PER_SECOND`` per second of a video or animation
    (``duration``), whose every frame is rendered."""
    extra = settings.STUDIO_VIDEO_TIMEOUT_PER_SECOND * (duration or 0)
    return settings.STUDIO_JOB_TIMEOUT + math.ceil(extra)


def render_job_options(duration: float | None = None) -> dict:
    """The enqueue options every render job gets (see gallery.pipeline.jobs);
    ``duration`` is the seconds of a moving source (its own timeout)."""
    options: dict = {
        "job_timeout": job_timeout(duration),
        "on_failure": Callback("gallery.pipeline.jobs.on_render_failure"),
        "on_stopped": Callback("gallery.pipeline.jobs.on_render_stopped"),
        "result_ttl": 3600,
        "failure_ttl": 7 * 24 * 3600,
    }
    if settings.STUDIO_JOB_RETRIES > 0:
        options["retry"] = Retry(
            max=settings.STUDIO_JOB_RETRIES, interval=retry_delays()
        )
    return options


def _new_job_id(artwork_id: int) -> str:
    return f"artwork-{artwork_id}-{uuid.uuid4().hex[:12]}"


def _put(artwork_id: int, job_id: str) -> bool:
    duration = (
        Artwork.objects.filter(pk=artwork_id)
        .values_list("photo__duration", flat=True)
        .first()
    )
    try:
        get_queue().enqueue(
            RENDER_JOB,
            artwork_id,
            job_id=job_id,
            description=f"render artwork {artwork_id}",
            **render_job_options(duration),
        )
    except RedisError as exc:
        logger.warning("could not enqueue artwork %s, will retry: %s", artwork_id, exc)
        return False
    return True


def enqueue_render(artwork_id: int) -> str | None:
    """Put the render job for an artwork on the queue now, whatever its
    owner's share; return the job id.

    When Redis cannot be reached the artwork simply stays queued without a
    job id; ``recover_jobs`` enqueues it once Redis is back, so the upload
    never fails because of the queue.
    """
    job_id = _new_job_id(artwork_id)
    if not _put(artwork_id, job_id):
        return None
    Artwork.objects.filter(pk=artwork_id, status=Artwork.Status.QUEUED).update(
        job_id=job_id
    )
    return job_id


def next_waiting(owner_id: int) -> list[int]:
    """The owner's oldest waiting artworks (queued, no job) that fit in their
    share (``STUDIO_QUEUE_SHARE`` queued or processing at once).

    The waiting rows are looked up first: after most jobs there are none,
    and then the share is not counted (one query, not two, per job)."""
    share = settings.STUDIO_QUEUE_SHARE
    rows = Artwork.objects.filter(owner_id=owner_id)
    waiting = list(
        rows.filter(status=Artwork.Status.QUEUED, job_id="")
        .order_by("queued_at", "pk")
        .values_list("pk", flat=True)[: max(share, 0)]
    )
    if not waiting:
        return []
    live = rows.filter(
        Q(status=Artwork.Status.PROCESSING)
        | (Q(status=Artwork.Status.QUEUED) & ~Q(job_id=""))
    ).count()
    return waiting[: max(share - live, 0)]


def enqueue_waiting(owner_id: int) -> list[int]:
    """Put the owner's oldest waiting artworks on the queue, up to their
    share; return the ids that went on.

    Each row is taken by a compare-and-set of its job id before it is
    enqueued, so two callers at once never enqueue the same row; at worst the
    share is passed by one for a moment. Safe to call any time: after an
    upload, when a job ends, from the sweeper. A Redis outage leaves the rows
    waiting for the sweeper.
    """
    enqueued = []
    for artwork_id in next_waiting(owner_id):
        job_id = _new_job_id(artwork_id)
        taken = Artwork.objects.filter(
            pk=artwork_id, status=Artwork.Status.QUEUED, job_id=""
        ).update(job_id=job_id)
        if not taken:
            continue  # another caller took it
        if not _put(artwork_id, job_id):
            Artwork.objects.filter(pk=artwork_id, job_id=job_id).update(job_id="")
            break
        enqueued.append(artwork_id)
    return enqueued


CONVERT_JOB = "gallery.pipeline.jobs.convert_result"
_PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED}


def _conversion_job_id(artwork_id: int, slug: str) -> str:
    return f"convert-{artwork_id}-{slug}"


def conversion_pending(artwork_id: int, slug: str) -> bool:
    """Whether the ``slug`` copy of the artwork's result is on its way (its
    job queued or running); False too when Redis cannot be reached."""
    queue = get_queue()
    try:
        job = Job.fetch(
            _conversion_job_id(artwork_id, slug), connection=queue.connection
        )
        return job.get_status() in _PENDING
    except (NoSuchJobError, RedisError):
        return False


def enqueue_conversion(artwork_id: int, slug: str) -> bool:
    """Put the conversion of the artwork's result to ``slug`` on the queue,
    at its front: a person is waiting for the download and it takes about a
    second. One job id per copy, so a conversion asked for twice at once
    runs once and the second run finds the copy stored. False when Redis
    cannot be reached."""
    try:
        get_queue().enqueue(
            CONVERT_JOB,
            artwork_id,
            slug,
            job_id=_conversion_job_id(artwork_id, slug),
            description=f"convert the result of artwork {artwork_id} to {slug}",
            at_front=True,
            job_timeout=settings.STUDIO_JOB_TIMEOUT,
            result_ttl=60,
            failure_ttl=3600,
        )
    except RedisError as exc:
        logger.warning("could not enqueue a conversion of %s: %s", artwork_id, exc)
        return False
    return True
