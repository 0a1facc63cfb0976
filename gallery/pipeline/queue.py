"""The render queue: its connection, its handle, and putting a job on it.

Services enqueue here, never through rq or django-rq directly, so that every
render job carries the same options (timeout, bounded retry, failure
callbacks: ``jobs.render_job_options``) and a Redis outage at upload time is
handled in one place.
"""

from __future__ import annotations

import logging
import threading
import uuid

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import Queue

from gallery.models import Artwork
from gallery.pipeline.jobs import render_artwork, render_job_options

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


def enqueue_render(artwork_id: int) -> str | None:
    """Put the render job for an artwork on the queue; return the job id.

    When Redis cannot be reached the artwork simply stays queued without a
    job id; ``recover_jobs`` enqueues it once Redis is back, so the upload
    never fails because of the queue.
    """
    job_id = f"artwork-{artwork_id}-{uuid.uuid4().hex[:12]}"
    try:
        get_queue().enqueue(
            render_artwork,
            artwork_id,
            job_id=job_id,
            description=f"render artwork {artwork_id}",
            **render_job_options(),
        )
    except RedisError as exc:
        logger.warning("could not enqueue artwork %s, will retry: %s", artwork_id, exc)
        return None
    Artwork.objects.filter(pk=artwork_id, status=Artwork.Status.QUEUED).update(
        job_id=job_id
    )
    return job_id
