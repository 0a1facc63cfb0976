"""Multi-step writes: creating photos and artworks, retries, sharing,
moderation, deletes.

Views and the admin call these functions; they never write rows or files
themselves. Render jobs are enqueued through ``gallery.pipeline.queue`` once
the rows are committed; jobs write their own results through
``gallery.pipeline``. Files go through ``default_storage`` only, so the same
code works on a local folder and on object storage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

import processing
from gallery import limits
from gallery.models import Artwork, Media, Photo, Report
from gallery.pipeline import dedup
from gallery.pipeline.queue import (
    conversion_pending,
    enqueue_conversion,
    enqueue_waiting,
)
from gallery.storage import files
from processing import formats, video


@dataclass(frozen=True)
class Recipe:
    """One requested rendering: a style slug and its full parameter dict."""

    style: str
    params: dict


def _hash_upload(upload) -> str:
    """sha256 of the upload, read in chunks (a video may be 200 MB)."""
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _lock_owner(owner) -> None:
    """Serialise one user's uploads and remixes until the transaction ends.

    The per-user caps and quotas are checked again under this row lock, so
    two requests at once cannot both pass a check only one of them fits.
    FOR NO KEY UPDATE: rows that merely reference the user are not blocked.
    (On SQLite, IMMEDIATE transactions already serialise all writers.)
    """
    list(
        get_user_model()
        .objects.select_for_update(no_key=True)
        .filter(pk=owner.pk)
        .values_list("pk", flat=True)
    )


def artworks_create(
    owner,
    upload,
    info: processing.ImageInfo | video.MediaInfo,
    recipes: Iterable[Recipe],
):
    """Save the uploaded photo and one queued artwork per recipe.

    The original is written to storage first; if anything after that fails
    the file is removed again, so a failed upload leaves nothing behind. The
    render jobs are enqueued only once the rows are committed. Backpressure
    and quotas refuse the upload (``limits.UploadRefused``) before anything is
    written, and once more under the owner's lock before the rows are saved
    (a concurrent upload may have taken the last place meanwhile); an
    identical recipe that is already done is reused, not rendered again.
    """
    recipes = list(recipes)
    limits.check_upload(owner, len(recipes), upload.size)
    content_hash = _hash_upload(upload)
    # A video or animation (processing.video.MediaInfo) names its format by
    # slug ("mp4", "gif") and records its length; a photo by Pillow's name.
    media = getattr(info, "media", Media.IMAGE)
    fmt = (
        formats.by_name(info.format)
        if media == Media.IMAGE
        else formats.by_slug(info.format)
    )
    suffix = fmt.suffix
    photo = Photo(
        owner=owner,
        original_name=(getattr(upload, "name", "") or "")[:255],
        format=fmt.name,
        width=info.width,
        height=info.height,
        media=media,
        duration=getattr(info, "duration", None),
        frames=getattr(info, "frames", None),
        byte_size=upload.size,
        content_hash=content_hash,
    )
    # Stored from the upload itself, in chunks: never held whole in memory.
    photo.original.save(f"upload{suffix}", upload, save=False)
    try:
        with transaction.atomic():
            _lock_owner(owner)
            limits.check_upload(owner, len(recipes), upload.size)
            photo.save()
            artworks = _queue_artworks(photo, owner, recipes)
    except BaseException:
        default_storage.delete(photo.original.name)
        raise
    return artworks


def _queue_artworks(photo: Photo, owner, recipes: list[Recipe]) -> list[Artwork]:
    """Create one artwork per recipe inside the caller's transaction.

    An identical recipe that is already done is reused at once (its row is
    born done, sharing the files); the others are enqueued after commit.
    """
    now = timezone.now()
    artworks = [
        Artwork.objects.create(
            photo=photo,
            owner=owner,
            style=recipe.style,
            params=recipe.params,
            engine_version=processing.style_version(recipe.style),
            queued_at=now,
            **dedup.initial_fields(
                owner.pk,
                photo.content_hash,
                recipe.style,
                recipe.params,
                processing.style_version(recipe.style),
            ),
        )
        for recipe in recipes
    ]
    if any(a.status == Artwork.Status.QUEUED for a in artworks):
        transaction.on_commit(lambda: enqueue_waiting(owner.pk))
    return artworks


def artworks_create_from_photo(owner, photo: Photo, recipes: Iterable[Recipe]):
    """Queue new artworks of a photo the owner already uploaded ("remix").

    No file is written: the new rows point at the stored original, so a remix
    costs no storage until its result is rendered.
    """
    if photo.owner_id != owner.pk:
        raise PermissionError("not your photo")
    recipes = list(recipes)
    with transaction.atomic():
        _lock_owner(owner)
        # Same refusals as an upload: the queue caps, and a full storage.
        limits.check_queue(owner, len(recipes))
        limits.check_storage_left(owner)
        return _queue_artworks(photo, owner, recipes)


def artwork_retry(artwork: Artwork) -> bool:
    """Queue a failed artwork again; False when it is not (or no longer) failed.

    The row goes back to queued in one conditional UPDATE, so two clicks on
    "retry" enqueue one job, and a done artwork is never reset. The attempt
    counter is kept: an artwork is started at most STUDIO_JOB_MAX_ATTEMPTS
    times in all, so one poisoned photo cannot be retried into worker
    out-of-memory kills forever (``limits.UploadRefused``, 409, past that).
    """
    if not artwork.retries_left:
        raise limits.UploadRefused(
            gettext(
                "This artwork failed too many times to try again. Upload the "
                "photo again, perhaps smaller, or choose other settings."
            ),
            status=409,
        )
    with transaction.atomic():
        changed = Artwork.objects.filter(
            pk=artwork.pk,
            status=Artwork.Status.FAILED,
            attempts__lt=settings.STUDIO_JOB_MAX_ATTEMPTS,
        ).update(
            status=Artwork.Status.QUEUED,
            error="",
            job_id="",
            queued_at=timezone.now(),
            started_at=None,
            finished_at=None,
        )
        if changed:
            transaction.on_commit(lambda: enqueue_waiting(artwork.owner_id))
    if changed:
        artwork.refresh_from_db()
    return bool(changed)


def artwork_set_public(artwork: Artwork, public: bool) -> None:
    artwork.public = public
    artwork.save(update_fields=["public"])


def artwork_delete(artwork: Artwork) -> None:
    """Delete an artwork, and its photo when no artwork is left.

    Files follow the rows (``gallery.storage.files``): they are removed after commit
    unless another artwork shares them.
    """
    with transaction.atomic():
        # Locking the photo serialises two deletes of its last two artworks,
        # so one of them sees "no artwork left" and the photo cannot linger.
        photo = Photo.objects.select_for_update().filter(pk=artwork.photo_id).first()
        artwork.delete()
        if photo is not None and not photo.artworks.exists():
            photo.delete()


# Moderation --------------------------------------------------------------------


class ReportRefused(Exception):
    """A report that cannot be made (the reporter owns the artwork)."""


def artwork_report(artwork: Artwork, reporter, reason: str):
    """Record a user's report and flag the artwork for moderators.

    One report per user and artwork: reporting again updates the reason. A
    hidden artwork stays hidden (reporting must not undo a moderator).
    """
    if artwork.owner_id == reporter.pk:
        raise ReportRefused(gettext("You cannot report your own artwork."))
    with transaction.atomic():
        report, _created = Report.objects.update_or_create(
            artwork=artwork, reporter=reporter, defaults={"reason": reason[:1000]}
        )
        Artwork.objects.filter(pk=artwork.pk).exclude(
            moderation=Artwork.Moderation.HIDDEN
        ).update(moderation=Artwork.Moderation.REPORTED)
    artwork.refresh_from_db(fields=["moderation"])
    return report


def artwork_set_moderation(artwork: Artwork, state: str) -> bool:
    """Hide an artwork, or make it visible again; False when already so.

    Moderation follows the content: every artwork of the same recipe (the
    same pixels, whoever made them) is hidden with it, and shown again with
    it; ``gallery.pipeline.dedup.moderation_of`` hides new copies.
    """
    changed = (
        Artwork.objects.filter(pk=artwork.pk)
        .exclude(moderation=state)
        .update(moderation=state)
    )
    if artwork.recipe_key:
        twins = Artwork.objects.filter(recipe_key=artwork.recipe_key)
        if state == Artwork.Moderation.HIDDEN:
            twins.exclude(moderation=state).update(moderation=state)
        else:
            twins.filter(moderation=Artwork.Moderation.HIDDEN).update(moderation=state)
    artwork.moderation = state
    return bool(changed)


def artwork_rerender(artwork: Artwork) -> bool:
    """Render a finished (done or failed) artwork again through the queue.

    The row goes back to queued with the current engine and a fresh recipe
    key (computed by the job); its old files are removed after commit unless
    another artwork shares them. False when the artwork is queued or
    processing already: a running job is never disturbed.
    """
    with transaction.atomic():
        row = (
            Artwork.objects.select_for_update().filter(pk=artwork.pk).finished().first()
        )
        if row is None:
            return False
        old_names = [row.result.name, row.thumbnail.name, row.animation.name]
        Artwork.objects.filter(pk=row.pk).update(
            status=Artwork.Status.QUEUED,
            result="",
            thumbnail="",
            animation="",
            result_bytes=0,
            thumbnail_bytes=0,
            animation_bytes=0,
            error="",
            job_id="",
            attempts=0,
            engine_version=processing.style_version(row.style),
            recipe_key="",
            queued_at=timezone.now(),
            started_at=None,
            finished_at=None,
        )
        files.delete_unreferenced_on_commit(old_names)
        transaction.on_commit(lambda: enqueue_waiting(row.owner_id))
    artwork.refresh_from_db()
    return True


def artwork_request_copy(artwork: Artwork, fmt: formats.ImageFormat, client: str):
    """Have a worker make the full-size ``fmt`` copy of a done artwork's
    result (a ``?format=`` download; ``gallery.pipeline.jobs.convert_result``).

    A conversion already on its way is not asked for again; a new one counts
    against the client's budget (``STUDIO_CONVERT_RATE`` a minute). Raises
    ``limits.UploadRefused``: 429 over the budget, 503 when the queue cannot
    be reached.
    """
    if conversion_pending(artwork.pk, fmt.slug):
        return
    retry_after = limits.hit("convert", client, settings.STUDIO_CONVERT_RATE)
    if retry_after is not None:
        raise limits.over_rate(retry_after)
    if not enqueue_conversion(artwork.pk, fmt.slug):
        raise limits.UploadRefused(
            gettext("Downloads in other formats are unavailable right now."),
            status=503,
            retry_after=30,
        )
