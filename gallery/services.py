"""Multi-step writes: creating photos and artworks, status changes, deletes.

Views and jobs call these functions; they never write rows or files
themselves. Files go through ``default_storage`` only, so the same code works
on a local folder and on object storage.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

import processing
from gallery.models import Artwork, Photo

logger = logging.getLogger(__name__)

UNFINISHED = (Artwork.Status.QUEUED, Artwork.Status.PROCESSING)


class UploadRefused(Exception):
    """An upload turned away before anything is written (quota, backpressure).

    ``status`` is the HTTP status the API answers with (429 for a per-user
    limit, 503 when the whole service is saturated); ``retry_after`` is in
    seconds, or None when waiting will not help (a full quota).
    """

    def __init__(
        self, message: str, *, status: int = 429, retry_after: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Recipe:
    """One requested rendering: a style slug and its full parameter dict."""

    style: str
    params: dict


def get_queue():
    return django_rq.get_queue(settings.STUDIO_QUEUE)


def _read_upload(upload) -> tuple[bytes, str]:
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data, hashlib.sha256(data).hexdigest()


def artworks_create(
    owner, upload, info: processing.ImageInfo, recipes: Iterable[Recipe]
):
    """Save the uploaded photo and one queued artwork per recipe.

    The original is written to storage first; if anything after that fails
    the file is removed again, so a failed upload leaves nothing behind. The
    render jobs are enqueued only once the rows are committed.
    """
    data, content_hash = _read_upload(upload)
    suffix = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}.get(
        info.format, ".heic"
    )
    photo = Photo(
        owner=owner,
        original_name=(getattr(upload, "name", "") or "")[:255],
        format=info.format,
        width=info.width,
        height=info.height,
        byte_size=len(data),
        content_hash=content_hash,
    )
    photo.original.save(f"upload{suffix}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            photo.save()
            now = timezone.now()
            artworks = [
                Artwork.objects.create(
                    photo=photo,
                    owner=owner,
                    style=recipe.style,
                    params=recipe.params,
                    engine_version=processing.ENGINE_VERSION,
                    queued_at=now,
                )
                for recipe in recipes
            ]
            for artwork in artworks:
                transaction.on_commit(lambda pk=artwork.pk: enqueue_render(pk))
    except BaseException:
        default_storage.delete(photo.original.name)
        raise
    return artworks


def enqueue_render(artwork_id: int) -> str | None:
    """Put the render job for an artwork on the queue; return the job id.

    When Redis cannot be reached the artwork simply stays queued without a
    job id; ``recover_jobs`` enqueues it once Redis is back, so the upload
    never fails because of the queue.
    """
    from gallery.jobs import render_artwork

    job_id = f"artwork-{artwork_id}-{uuid.uuid4().hex[:12]}"
    try:
        get_queue().enqueue(
            render_artwork,
            artwork_id,
            job_id=job_id,
            job_timeout=settings.STUDIO_JOB_TIMEOUT,
            description=f"render artwork {artwork_id}",
        )
    except RedisError as exc:
        logger.warning("could not enqueue artwork %s, will retry: %s", artwork_id, exc)
        return None
    Artwork.objects.filter(pk=artwork_id, status=Artwork.Status.QUEUED).update(
        job_id=job_id
    )
    return job_id


def artwork_mark_processing(artwork: Artwork) -> bool:
    """Move a queued (or re-run) artwork to processing; False when finished."""
    changed = Artwork.objects.filter(pk=artwork.pk, status__in=UNFINISHED).update(
        status=Artwork.Status.PROCESSING, started_at=timezone.now(), error=""
    )
    if changed:
        artwork.refresh_from_db(fields=["status", "started_at", "error"])
    return bool(changed)


def artwork_store_result(artwork: Artwork, result: bytes, thumbnail: bytes) -> bool:
    """Save the rendered files and mark the artwork done.

    A row that is already done (the job ran twice) keeps its files; the files
    just written are removed again so nothing is orphaned.
    """
    result_name = default_storage.save(
        artwork.result.field.generate_filename(artwork, "result.jpg"),
        ContentFile(result),
    )
    thumb_name = default_storage.save(
        artwork.thumbnail.field.generate_filename(artwork, "thumb.jpg"),
        ContentFile(thumbnail),
    )
    changed = Artwork.objects.filter(pk=artwork.pk, status__in=UNFINISHED).update(
        status=Artwork.Status.DONE,
        result=result_name,
        thumbnail=thumb_name,
        error="",
        finished_at=timezone.now(),
    )
    if not changed:
        default_storage.delete(result_name)
        default_storage.delete(thumb_name)
        return False
    artwork.refresh_from_db()
    return True


def artwork_mark_failed(artwork_id: int, reason: str) -> bool:
    """Mark an unfinished artwork failed with a reason fit for its owner.

    Never touches a finished row, so a late failure callback cannot flip a
    done artwork back to failed.
    """
    changed = Artwork.objects.filter(pk=artwork_id, status__in=UNFINISHED).update(
        status=Artwork.Status.FAILED, error=reason[:1000], finished_at=timezone.now()
    )
    return bool(changed)


def artwork_set_public(artwork: Artwork, public: bool) -> None:
    artwork.public = public
    artwork.save(update_fields=["public"])


def _delete_files_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)


def artwork_delete(artwork: Artwork) -> None:
    """Delete an artwork, its files, and its photo when no artwork is left."""
    with transaction.atomic():
        photo = artwork.photo
        names = [artwork.result.name, artwork.thumbnail.name]
        artwork.delete()
        if not photo.artworks.exists():
            names.append(photo.original.name)
            photo.delete()
        _delete_files_on_commit(names)
