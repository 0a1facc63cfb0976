"""Job functions run by rq workers. Each takes an id and re-fetches the row,
and writes its results here (claim, progress, store result, fail): never
through ``gallery.services``.

Fault handling, in one place:

- every render job carries a timeout (``STUDIO_JOB_TIMEOUT``), a bounded
  ``Retry`` and failure/stopped callbacks (``queue.render_job_options``);
- only transient faults (database, Redis or storage connection errors, a lost
  worker) are retried, with growing delays; a bad image or a bug fails once,
  with a reason the owner can read;
- every row change is a compare-and-set on an unfinished row *that still
  belongs to this job*, so a late callback (RQ's "abandoned job" cleanup, a
  retry that lost the race) can never flip a finished artwork or steal a row
  another job owns;
- an artwork that ends (done, reused, failed) lets its owner's next waiting
  one onto the queue (``queue.enqueue_waiting``: the fair queue).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

import processing
from gallery.models import Artwork
from gallery.pipeline import dedup, memory, moving, proxy, queue
from gallery.pipeline.results import store_result
from gallery.storage import conversions
from processing import formats

logger = logging.getLogger(__name__)

UNEXPECTED_ERROR = _(
    "Something went wrong while rendering this artwork. Please try again."
)
TIMEOUT_ERROR = _(
    "Rendering took too long and was stopped. Try a smaller photo or other settings."
)
WORKER_LOST = _("The worker stopped while rendering this artwork. Please try again.")
TRANSIENT_GAVE_UP = _(
    "The studio could not reach its storage or database. Please try again later."
)

#: Every stage an artwork passes through, with the label the pages show: the
#: statuses, the job's own steps (reported in ``job.meta``) and "waiting"
#: (queued while Redis was away, until the sweeper enqueues it).
STAGES = {
    "queued": _("Waiting in the queue"),
    "waiting": _("Waiting its turn"),
    "processing": _("Processing"),
    "decoding": _("Reading the photo"),
    "rendering": _("Painting"),
    "encoding": _("Encoding the result"),
    "thumbnail": _("Making the thumbnail"),
    "saving": _("Saving"),
    "done": _("Done"),
    "failed": _("Failed"),
}

# Connection-level faults that a later attempt can get past. sqlite's
# "database is locked" is an OperationalError too, and is transient.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


try:  # object storage (STUDIO_STORAGE=s3): botocore's own connection errors
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError as BotoHTTPClientError

    TRANSIENT_ERRORS += (BotoConnectionError, BotoHTTPClientError)
except ImportError:  # local storage only
    pass


def is_transient(exc: BaseException | None) -> bool:
    """True for faults worth retrying: the artwork itself is fine."""
    return isinstance(exc, (*TRANSIENT_ERRORS, AbandonedJobError))


# Row changes owned by one job ------------------------------------------------


def _owned_by(job_id: str | None) -> Q:
    # A blank job_id means "not enqueued through enqueue_render" (an upload
    # while Redis was down, a retry click): any job may take such a row.
    if not job_id:
        return Q()
    return Q(job_id=job_id) | Q(job_id="")


def claim(artwork_id: int, job_id: str | None) -> bool:
    """Move the artwork to processing for this job; False if it is not ours."""
    changed = (
        Artwork.objects.filter(_owned_by(job_id), pk=artwork_id)
        .unfinished()
        .update(
            status=Artwork.Status.PROCESSING,
            started_at=timezone.now(),
            finished_at=None,
            error="",
            attempts=F("attempts") + 1,
            **({"job_id": job_id} if job_id else {}),
        )
    )
    return bool(changed)


def fail_for_job(artwork_id: int, job_id: str | None, reason: str) -> bool:
    """Mark the artwork failed, only while unfinished and owned by ``job_id``."""
    changed = (
        Artwork.objects.filter(_owned_by(job_id), pk=artwork_id)
        .unfinished()
        .update(
            status=Artwork.Status.FAILED,
            error=str(reason)[:1000],
            finished_at=timezone.now(),
        )
    )
    return bool(changed)


def requeue_for_job(artwork_id: int, job_id: str) -> bool:
    """Put a processing row back to queued while RQ retries the same job."""
    changed = Artwork.objects.filter(
        pk=artwork_id, job_id=job_id, status=Artwork.Status.PROCESSING
    ).update(status=Artwork.Status.QUEUED, queued_at=timezone.now(), error="")
    return bool(changed)


def _artwork_id(job: Job) -> int | None:
    try:
        return int(job.args[0])
    except (IndexError, TypeError, ValueError):
        return None


def settle_failed_job(job: Job, exc: BaseException | None, *, killed: bool) -> str:
    """Decide what a failed attempt means for its artwork: retry or fail.

    Called from the failure callback (in the work horse, or wherever RQ's
    registry cleanup runs) and from the worker's work-horse-killed handler.
    Returns "retry", "failed" or "ignored" (the row is finished or belongs to
    another job). Sets ``job.retries_left = 0`` whenever RQ must not retry:
    RQ reads that attribute of this very object right after the callback.
    """
    artwork_id = _artwork_id(job)
    if artwork_id is None:
        return "ignored"
    artwork = (
        Artwork.objects.filter(pk=artwork_id)
        .only("status", "job_id", "attempts", "owner_id")
        .first()
    )
    if (
        artwork is None
        or artwork.is_finished
        or (artwork.job_id and artwork.job_id != job.id)
    ):
        job.retries_left = 0
        return "ignored"
    transient = killed or is_transient(exc)
    within_budget = artwork.attempts < settings.STUDIO_JOB_MAX_ATTEMPTS
    if transient and job.should_retry and within_budget:
        requeue_for_job(artwork_id, job.id)
        return "retry"
    job.retries_left = 0
    if isinstance(exc, JobTimeoutException):
        reason = TIMEOUT_ERROR
    elif killed or isinstance(exc, AbandonedJobError):
        reason = WORKER_LOST
    elif transient:
        reason = TRANSIENT_GAVE_UP
    else:
        reason = UNEXPECTED_ERROR
    fail_for_job(artwork_id, job.id, reason)
    release_next(artwork.owner_id)
    return "failed"


def on_render_failure(job: Job, connection, exc_type, exc_value, tb) -> None:
    """rq failure callback: an exception, a timeout or an abandoned job."""
    try:
        outcome = settle_failed_job(job, exc_value, killed=False)
    except DatabaseError:
        # The database is down too: leave the row to the sweeper, and let RQ
        # retry if it still may.
        logger.warning("could not settle failed job %s", job.id, exc_info=True)
        return
    logger.info("render job %s failed (%s): %s", job.id, exc_type, outcome)


def on_render_stopped(job: Job, connection) -> None:
    """rq stopped callback: an operator stopped the job (``send_stop_job``)."""
    artwork_id = _artwork_id(job)
    if artwork_id is not None:
        job.retries_left = 0
        fail_for_job(artwork_id, job.id, _("Rendering was stopped by an operator."))


# The job ----------------------------------------------------------------------


def _report(stage: str, percent: int, **extra) -> None:
    """Publish the job's stage and percent (and ``extra``: a video's frame
    counts and rate) in ``job.meta`` (Redis only)."""
    assert stage in STAGES, stage
    job = get_current_job()
    if job is None:
        return
    job.meta.update(stage=stage, progress=percent, **extra)
    job.save_meta()


def render_artwork(artwork_id: int) -> str:
    """Render one artwork: decode the original, apply the style, store results.

    Idempotent: a finished artwork, or one that another job owns, is left
    alone; an identical finished recipe is reused instead of rendered; a bad
    image fails the artwork with a reason the user understands (no retry).
    Transient faults propagate so that RQ retries the job (see
    ``on_render_failure``). Whatever happened, the owner's next waiting
    artwork then takes this one's place on the queue.
    """
    artwork = Artwork.objects.select_related("photo").filter(pk=artwork_id).first()
    if artwork is None:
        return "missing"
    try:
        return _render_artwork(artwork)
    finally:
        release_next(artwork.owner_id)


def release_next(owner_id: int) -> None:
    """Let the owner's next waiting artwork onto the queue. Never raises: a
    job's own outcome must not be masked; the sweeper catches up."""
    try:
        queue.enqueue_waiting(owner_id)
    except Exception:  # noqa: BLE001 - see the docstring
        logger.warning("could not release the next artwork", exc_info=True)


def _render_artwork(artwork: Artwork) -> str:
    artwork_id = artwork.pk
    if artwork.is_finished:
        return artwork.status
    job = get_current_job()
    job_id = job.id if job else None
    if not claim(artwork_id, job_id):
        return "superseded"
    if job is not None:
        job.meta.update(pid=os.getpid())
    key = artwork.recipe_key or dedup.ensure_recipe_key(artwork)
    if dedup.reuse_result(artwork_id, artwork.owner_id, key):
        _report("done", 100)
        return "reused"
    with dedup.recipe_lock(key) as waited:
        # Another worker may have finished the same recipe while we waited.
        if waited and dedup.reuse_result(artwork_id, artwork.owner_id, key):
            _report("done", 100)
            return "reused"
        return _render(artwork, job_id)


@contextlib.contextmanager
def _job_errors(artwork_id: int, job_id: str | None) -> Iterator[dict]:
    """What a render's exceptions mean for its artwork. A bad source (or
    recipe) fails it at once, with the reason (``outcome["failed"]``, the
    exception swallowed): a retry would fail the same way. Transient faults
    propagate for ``on_render_failure`` to retry; a timeout or a bug fails
    the artwork and propagates."""
    outcome = {"failed": False}
    try:
        yield outcome
    except (processing.InvalidImage, ValueError) as exc:
        # InvalidVideo is an InvalidImage: its message is for the owner too.
        outcome["failed"] = fail_for_job(artwork_id, job_id, str(exc)) or True
    except FileNotFoundError:
        fail_for_job(
            artwork_id, job_id, _("The original photo is missing from storage.")
        )
        outcome["failed"] = True
    except JobTimeoutException:
        fail_for_job(artwork_id, job_id, TIMEOUT_ERROR)
        raise
    except TRANSIENT_ERRORS:
        raise  # on_render_failure decides: retry with backoff, or fail
    except Exception:
        logger.exception("render of artwork %s failed", artwork_id)
        fail_for_job(artwork_id, job_id, UNEXPECTED_ERROR)
        raise


def _render(artwork: Artwork, job_id: str | None) -> str:
    if artwork.photo.is_moving:
        return _render_moving(artwork, job_id)
    with _job_errors(artwork.pk, job_id) as outcome:
        _report("decoding", 5)
        with artwork.photo.original.open("rb") as original:
            data = original.read()
        image = processing.decode(
            data,
            max_pixels=settings.STUDIO_MAX_PIXELS,
            work_pixels=settings.STUDIO_WORK_PIXELS,
        )
        del data
        memory.release_heap()  # the decoder's freed blocks (see memory)
        # The preview's source, from the pixels already in memory (once per
        # photo), stored after the result so it never delays "done"; made
        # then too, from the photo kept until then, when it is small
        # (proxy.DEFER_PIXELS), else now, so the photo can go before encoding.
        small = keep = None
        if not artwork.photo.preview_proxy:
            if image.shape[0] * image.shape[1] <= proxy.DEFER_PIXELS:
                keep = image
            else:
                small = proxy.proxy_pixels(image)
        _report("rendering", 20)
        rendered = processing.render(  # the photo given up, unless kept
            image, artwork.style, consume=keep is None, **artwork.params
        )
        del image
        _report("encoding", 80)
        result = processing.encode(rendered, "jpeg", settings.STUDIO_RESULT_QUALITY)
        _report("thumbnail", 92)
        thumb = processing.make_thumbnail(rendered, settings.STUDIO_THUMBNAIL_SIZE)
        thumbnail = processing.encode(thumb, "jpeg", 85)
        del rendered, thumb
    if outcome["failed"]:
        return "failed"
    _report("saving", 96)
    store_result(artwork, result, thumbnail)
    del result, thumbnail
    _report("done", 100)
    if keep is not None:
        small = proxy.proxy_pixels(keep)
        del keep
    if small is not None:
        proxy.store_proxy(artwork.photo, small)
    return "done"


def _render_moving(artwork: Artwork, job_id: str | None) -> str:
    """A video or animation: rendered frame by frame into temporary files
    (gallery.pipeline.moving), which are stored, then removed whatever
    happened."""
    with _job_errors(artwork.pk, job_id) as outcome:
        with moving.rendered(artwork, _report) as output:
            _report("saving", 97)
            store_result(
                artwork,
                output.result,
                output.thumbnail,
                animation=output.animation,
                result_name="result.mp4",
            )
    if outcome["failed"]:
        return "failed"
    _report("done", 100)
    return "done"


def convert_result(artwork_id: int, slug: str) -> str:
    """Store the full-size ``slug`` copy of an artwork's result, for a
    ``?format=`` download: here, at the workers' priority, and not in a web
    process, where a 12 MP result cost 1-1.5 s of CPU and ~100 MB and held
    one of its few workers for seconds. Returns what it did."""
    fmt = formats.by_slug(slug)
    artwork = Artwork.objects.filter(pk=artwork_id).first()
    if fmt is None or not fmt.encodable:
        return "no such format"
    if artwork is None or not artwork.result:
        return "no result"
    try:
        conversions.convert(artwork.result, fmt)
    except conversions.ConversionBusy:
        return "busy"  # another run is making the same copy
    except FileNotFoundError:
        return "result missing"
    return "stored"
