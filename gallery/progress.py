"""What the status endpoint tells about an unfinished artwork."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job

from gallery.models import Artwork
from gallery.services import get_queue

logger = logging.getLogger(__name__)


def artwork_progress(artwork: Artwork) -> dict:
    """Return ``{"stage", "progress"}`` for an artwork.

    Finished rows answer from the database alone; a processing row asks Redis
    for the stage its job last reported. A Redis outage degrades to a coarse
    answer instead of an error.
    """
    if artwork.status == Artwork.Status.DONE:
        return {"stage": "done", "progress": 100}
    if artwork.status == Artwork.Status.FAILED:
        return {"stage": "failed", "progress": 100}
    if artwork.status == Artwork.Status.QUEUED:
        stage = "queued" if artwork.job_id else "waiting"
        return {"stage": stage, "progress": 0}
    state = {"stage": "processing", "progress": 1}
    if artwork.job_id:
        try:
            job = Job.fetch(artwork.job_id, connection=get_queue().connection)
            state["stage"] = job.meta.get("stage", state["stage"])
            state["progress"] = int(job.meta.get("progress", state["progress"]))
        except (NoSuchJobError, RedisError) as exc:
            logger.debug("no progress for artwork %s: %s", artwork.pk, exc)
    return state
