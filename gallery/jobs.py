"""Job functions run by rq workers. Each takes an id and re-fetches the row."""

from __future__ import annotations

import logging

from django.conf import settings
from rq import get_current_job

import processing
from gallery import services
from gallery.models import Artwork

logger = logging.getLogger(__name__)

UNEXPECTED_ERROR = (
    "Something went wrong while rendering this artwork. Please try again."
)


def _report(stage: str, percent: int) -> None:
    job = get_current_job()
    if job is None:
        return
    job.meta.update(stage=stage, progress=percent)
    job.save_meta()


def render_artwork(artwork_id: int) -> str:
    """Render one artwork: decode the original, apply the style, store results.

    Idempotent: a finished artwork is left alone, and a bad image ends the
    artwork as failed with a reason the user understands (no retry).
    """
    artwork = Artwork.objects.select_related("photo").filter(pk=artwork_id).first()
    if artwork is None:
        return "missing"
    if artwork.is_finished:
        return artwork.status
    services.artwork_mark_processing(artwork)
    try:
        _report("decoding", 5)
        with artwork.photo.original.open("rb") as original:
            data = original.read()
        image = processing.decode(
            data,
            max_pixels=settings.STUDIO_MAX_PIXELS,
            work_pixels=settings.STUDIO_WORK_PIXELS,
        )
        del data
        _report("rendering", 20)
        rendered = processing.render(image, artwork.style, **artwork.params)
        del image
        _report("encoding", 80)
        result = processing.encode(rendered, "jpeg", settings.STUDIO_RESULT_QUALITY)
        _report("thumbnail", 92)
        thumb = processing.make_thumbnail(rendered, settings.STUDIO_THUMBNAIL_SIZE)
        thumbnail = processing.encode(thumb, "jpeg", 85)
    except (processing.InvalidImage, ValueError) as exc:
        services.artwork_mark_failed(artwork_id, str(exc))
        return "failed"
    except Exception:
        logger.exception("render of artwork %s failed", artwork_id)
        services.artwork_mark_failed(artwork_id, UNEXPECTED_ERROR)
        raise
    services.artwork_store_result(artwork, result, thumbnail)
    _report("done", 100)
    return "done"
