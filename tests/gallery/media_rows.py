"""Rows with real stored files, made directly (no render) for the moderation,
cleanup, quota and files tests. Files go through default_storage, as the
services write them."""

from __future__ import annotations

import os
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from gallery.models import Artwork, Photo
from tests.conftest import image_bytes


def make_photo(owner, *, days_old: float = 0, data: bytes | None = None) -> Photo:
    data = data if data is not None else image_bytes(width=64, height=48)
    photo = Photo(
        owner=owner,
        original_name="photo.jpg",
        format="JPEG",
        width=64,
        height=48,
        byte_size=len(data),
        content_hash=f"hash-{owner.pk}-{len(data)}",
    )
    photo.original.save("upload.jpg", ContentFile(data), save=False)
    photo.save()
    if days_old:
        Photo.objects.filter(pk=photo.pk).update(
            created=timezone.now() - timedelta(days=days_old)
        )
        photo.refresh_from_db()
    return photo


def make_artwork(
    photo: Photo,
    *,
    status: str = Artwork.Status.DONE,
    days_old: float = 0,
    public: bool = False,
    share_files_of: Artwork | None = None,
    style: str = "pencil",
    error: str = "",
) -> Artwork:
    """An artwork of ``photo``; a done one gets result and thumbnail files
    (or the very same names as ``share_files_of``, as dedup does)."""
    now = timezone.now()
    artwork = Artwork.objects.create(
        photo=photo,
        owner=photo.owner,
        style=style,
        params={},
        engine_version="test",
        status=status,
        public=public,
        error=error,
        queued_at=now,
    )
    fields: dict = {}
    if status == Artwork.Status.DONE:
        if share_files_of is not None:
            result, thumb = share_files_of.result.name, share_files_of.thumbnail.name
            result_bytes = share_files_of.result_bytes
            thumb_bytes = share_files_of.thumbnail_bytes
        else:
            result_data = image_bytes(width=64, height=48, quality=90)
            thumb_data = image_bytes(width=32, height=24, quality=70)
            result = default_storage.save(
                artwork.result.field.generate_filename(artwork, "result.jpg"),
                ContentFile(result_data),
            )
            thumb = default_storage.save(
                artwork.thumbnail.field.generate_filename(artwork, "thumb.jpg"),
                ContentFile(thumb_data),
            )
            result_bytes, thumb_bytes = len(result_data), len(thumb_data)
        fields.update(
            result=result,
            thumbnail=thumb,
            result_bytes=result_bytes,
            thumbnail_bytes=thumb_bytes,
        )
    if status in (Artwork.Status.DONE, Artwork.Status.FAILED):
        fields.update(started_at=now, finished_at=now)
    if status == Artwork.Status.PROCESSING:
        fields.update(started_at=now)
    if days_old:
        then = now - timedelta(days=days_old)
        fields.update(created=then, queued_at=then)
        if "finished_at" in fields:
            fields.update(started_at=then, finished_at=then)
    if fields:
        Artwork.objects.filter(pk=artwork.pk).update(**fields)
        artwork.refresh_from_db()
    return artwork


def age_file(root, name: str, hours: float) -> None:
    """Set a stored file's modification time ``hours`` into the past."""
    path = root / name
    then = timezone.now().timestamp() - hours * 3600
    os.utime(path, (then, then))


def all_file_names(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def names_referenced() -> set[str]:
    names = set(Photo.objects.values_list("original", flat=True))
    names |= set(Artwork.objects.values_list("result", flat=True))
    names |= set(Artwork.objects.values_list("thumbnail", flat=True))
    return {n for n in names if n}
