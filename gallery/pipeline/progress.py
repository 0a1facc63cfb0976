"""What the status endpoint tells about an artwork: stage, percent, place in
the queue and an estimated time to completion."""

from __future__ import annotations

import logging
import statistics
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from gallery.models import Artwork, Media
from gallery.pipeline.queue import get_queue

logger = logging.getLogger(__name__)

# Render time assumed before any artwork has finished (a 12 MP photo takes
# about a second on one core; queue wait and storage add the rest).
DEFAULT_JOB_SECONDS = 5.0
RECENT_JOBS = 50
HEARTBEAT_WINDOW = timedelta(seconds=60)
_CACHE_SECONDS = 15


def recent_job_seconds() -> float:
    """Median start-to-finish time of the last renders of photos (cached
    briefly).

    Reused results (no render, zero duration) are left out, and so are
    videos and animations: their renders take as long as their clips, and a
    rendering one has its own estimate (``frame_seconds_left``).
    """
    cached = cache.get("studio:recent-job-seconds")
    if cached is not None:
        return cached
    rows = (
        Artwork.objects.filter(
            status=Artwork.Status.DONE,
            started_at__isnull=False,
            finished_at__isnull=False,
            photo__media=Media.IMAGE,
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:RECENT_JOBS]
    )
    durations = [
        (finished - started).total_seconds()
        for started, finished in rows
        if finished > started
    ]
    value = statistics.median(durations) if durations else DEFAULT_JOB_SECONDS
    cache.set("studio:recent-job-seconds", value, _CACHE_SECONDS)
    return value


def live_workers(queue=None) -> list[Worker]:
    """Workers of the render queue whose heartbeat is under a minute old."""
    queue = queue or get_queue()
    cutoff = timezone.now() - HEARTBEAT_WINDOW
    return [
        worker
        for worker in Worker.all(queue=queue)
        if worker.last_heartbeat and worker.last_heartbeat >= cutoff
    ]


def worker_count() -> int:
    """Live workers, cached briefly; 0 when Redis cannot be reached."""
    cached = cache.get("studio:worker-count")
    if cached is not None:
        return cached
    try:
        value = len(live_workers())
    except RedisError:
        value = 0
    cache.set("studio:worker-count", value, _CACHE_SECONDS)
    return value


def artwork_progress(artwork: Artwork) -> dict:
    """Return ``{"stage", "progress", "queue_position", "eta_seconds"}``.

    Finished rows answer from the database alone; unfinished ones ask Redis
    for the job's stage or place in the queue. ``queue_position`` is 1 for the
    next job to start; ``eta_seconds`` estimates the time until done from
    recent render durations and the number of live workers. A Redis outage
    degrades to a coarse answer (nulls) instead of an error.
    """
    if artwork.status == Artwork.Status.DONE:
        return _state("done", 100)
    if artwork.status == Artwork.Status.FAILED:
        return _state("failed", 100)
    if artwork.status == Artwork.Status.QUEUED:
        if not artwork.job_id:
            # Waiting for its owner's earlier artworks (the fair queue), or
            # for Redis to come back (the sweeper enqueues it then).
            return _waiting_state(artwork)
        state = _state("queued", 0)
        try:
            position = get_queue().get_job_position(artwork.job_id)
        except RedisError as exc:
            logger.debug("no queue position for artwork %s: %s", artwork.pk, exc)
            return state
        if position is not None:
            per_job = recent_job_seconds()
            ahead = position  # rq counts from 0: jobs ahead of this one
            state["queue_position"] = ahead + 1
            state["eta_seconds"] = round(
                per_job * (ahead // max(1, worker_count()) + 1)
            )
        return state
    state = _state("processing", 1)
    meta: dict = {}
    if artwork.job_id:
        try:
            job = Job.fetch(artwork.job_id, connection=get_queue().connection)
            meta = job.meta
            state["stage"] = meta.get("stage", state["stage"])
            state["progress"] = int(meta.get("progress", state["progress"]))
        except (NoSuchJobError, RedisError) as exc:
            logger.debug("no progress for artwork %s: %s", artwork.pk, exc)
    elapsed = (
        (timezone.now() - artwork.started_at).total_seconds()
        if artwork.started_at
        else 0.0
    )
    state["queue_position"] = 0
    frames_left = frame_seconds_left(meta)
    if frames_left is not None:
        state["eta_seconds"] = max(1, round(frames_left))
    else:
        state["eta_seconds"] = max(1, round(recent_job_seconds() - elapsed))
    return state


# Storing a rendered clip and its thumbnail after the last frame.
VIDEO_TAIL_SECONDS = 2.0


def frame_seconds_left(meta: dict) -> float | None:
    """Seconds a video render still needs, from the frame rate it measured
    (``gallery.pipeline.moving``: frames done and total, frames per second),
    or None before it has measured one (or for a photo)."""
    try:
        done = int(meta.get("frames_done") or 0)
        total = int(meta.get("frames_total") or 0)
        rate = float(meta.get("frame_rate") or 0)
    except (TypeError, ValueError):
        return None
    if total <= 0 or done <= 0 or rate <= 0:
        return None
    return max(0, total - done) / rate + VIDEO_TAIL_SECONDS


def _waiting_state(artwork: Artwork) -> dict:
    """ETA of an artwork waiting its turn (the fair queue): it goes onto the
    queue behind every job already there, once its owner's waiting
    artworks ahead of it have gone on before it; the live workers take
    them ``worker_count()`` at a time. (Counting the owner's artworks
    only, as before, said "1 s" to someone a site-wide queue of minutes
    away, and the pages polled it every second or two all that time.)"""
    state = _state("waiting", 0)
    ahead = (
        Artwork.objects.filter(
            owner_id=artwork.owner_id,
            status=Artwork.Status.QUEUED,
            job_id="",
            pk__lt=artwork.pk,
        )
    ).count()
    try:
        queued = get_queue().count
    except RedisError as exc:
        logger.debug("no queue length for artwork %s: %s", artwork.pk, exc)
        queued = 0
    rounds = (queued + ahead) // max(1, worker_count()) + 1
    state["eta_seconds"] = round(recent_job_seconds() * rounds)
    return state


def _state(stage: str, percent: int) -> dict:
    return {
        "stage": stage,
        "progress": percent,
        "queue_position": None,
        "eta_seconds": None,
    }
