"""Storing a render's files and marking its artwork done, in one step that
leaves nothing behind when it cannot finish (a job's last write; see
``gallery.pipeline.jobs``)."""

from __future__ import annotations

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.utils import timezone

from gallery.models import Artwork
from gallery.pipeline import dedup


def store_result(
    artwork: Artwork,
    result: bytes | File,
    thumbnail: bytes,
    *,
    animation: File | None = None,
    result_name: str = "result.jpg",
) -> bool:
    """Save the rendered files and mark the artwork done.

    A row that is already done (the job ran twice) keeps its files; the files
    just written are removed again so nothing is orphaned, and so are those
    written before a failing save.
    """
    files = {"result": (result_name, result), "thumbnail": ("thumb.jpg", thumbnail)}
    if animation is not None:
        files["animation"] = ("animation.webp", animation)
    stored: dict[str, tuple[str, int]] = {}
    try:
        for kind, (hint, data) in files.items():
            content = ContentFile(data) if isinstance(data, bytes) else data
            name = default_storage.save(
                getattr(artwork, kind).field.generate_filename(artwork, hint), content
            )
            stored[kind] = (name, content.size)
    except BaseException:
        for name, _size in stored.values():
            default_storage.delete(name)
        raise
    columns = {kind: name for kind, (name, _size) in stored.items()}
    # Recorded so quotas and the admin's figures need no storage calls.
    sizes = {f"{kind}_bytes": size for kind, (_name, size) in stored.items()}
    changed = (
        Artwork.objects.filter(pk=artwork.pk)
        .unfinished()
        .update(
            status=Artwork.Status.DONE,
            **columns,
            **sizes,
            error="",
            finished_at=timezone.now(),
            **dedup.moderation_of(artwork.recipe_key),
        )
    )
    if not changed:
        for name in columns.values():
            default_storage.delete(name)
        return False
    # The row is ours and just written: no reload.
    artwork.status = Artwork.Status.DONE
    for kind, name in columns.items():
        getattr(artwork, kind).name = name
        setattr(artwork, f"{kind}_bytes", sizes[f"{kind}_bytes"])
    artwork.error = ""
    return True
