"""Files follow rows: a deleted Photo or Artwork takes its stored files along.

``post_delete`` handlers (connected in ``GalleryConfig.ready``) collect the
names of the deleted row's files; once the transaction commits, each name is
deleted from storage unless another row still references it. Artworks with
an equal ``recipe_key`` share result and thumbnail files (see
``gallery.pipeline.dedup``), so the reference check is what keeps a shared file alive
until its last row is gone.

Deleting only after commit matters: a rolled-back delete must keep its files,
and a row deleted by a cascade (a user, a photo) is handled the same way as
one deleted by a view, the admin or ``cleanup_media``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete

from gallery.models import Artwork, Photo
from processing import formats

logger = logging.getLogger(__name__)

# Names waiting for their transaction to commit, per thread and database.
# Every handler registers a flush, and the first flush to run takes the whole
# set, so a batch delete of 500 rows costs one reference query, not 500. A
# name left behind by a rolled-back transaction is harmless: its row exists
# again, so the reference check keeps the file.
_pending = threading.local()

_CHUNK = 500


def _pending_names(using: str) -> set[str]:
    buckets = getattr(_pending, "buckets", None)
    if buckets is None:
        buckets = _pending.buckets = {}
    return buckets.setdefault(using, set())


# A result converted for download (``?format=png``) is stored once beside it,
# under the same name with the format's suffix; it lives and dies with it.
CONVERTED_SUFFIXES = tuple(
    f.suffix for f in formats.FORMATS if f.encodable and f.suffix != ".jpg"
)


def converted_name(result_name: str, suffix: str) -> str:
    """Where the copy of a (JPEG) result in another format is stored."""
    return str(PurePosixPath(result_name).with_suffix(suffix))


def converted_names(name: str) -> list[str]:
    """Every converted copy a stored result may have."""
    if not name.startswith("results/") or not name.endswith(".jpg"):
        return []
    return [converted_name(name, suffix) for suffix in CONVERTED_SUFFIXES]


def _source_of(name: str) -> str | None:
    """The result a converted copy was made from, or None."""
    path = PurePosixPath(name)
    if name.startswith("results/") and path.suffix in CONVERTED_SUFFIXES:
        return str(path.with_suffix(".jpg"))
    return None


def referenced_names(
    names: Iterable[str], *, using: str = DEFAULT_DB_ALIAS
) -> set[str]:
    """The subset of ``names`` that some Photo or Artwork row still points at
    (a converted copy counts as referenced while its result is)."""
    names = [name for name in names if name]
    sources = {name: _source_of(name) for name in names}
    direct = _referenced([*names, *filter(None, sources.values())], using=using)
    return {name for name in names if name in direct or sources[name] in direct}


def _referenced(names: list[str], *, using: str) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        found.update(
            Photo.objects.using(using)
            .filter(original__in=chunk)
            .values_list("original", flat=True)
        )
        found.update(
            Photo.objects.using(using)
            .filter(preview_proxy__in=chunk)
            .values_list("preview_proxy", flat=True)
        )
        found.update(
            Artwork.objects.using(using)
            .filter(result__in=chunk)
            .values_list("result", flat=True)
        )
        found.update(
            Artwork.objects.using(using)
            .filter(thumbnail__in=chunk)
            .values_list("thumbnail", flat=True)
        )
        found.update(
            Artwork.objects.using(using)
            .filter(animation__in=chunk)
            .values_list("animation", flat=True)
        )
    return found


def delete_unreferenced(names: Iterable[str], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Delete each named file that no row references; return how many."""
    names = {name for name in names if name}
    if not names:
        return 0
    keep = referenced_names(names, using=using)
    gone = sorted(names - keep)
    for name in gone:  # a result's converted copies go with it
        for copy in converted_names(name):
            if default_storage.exists(copy):
                delete_quietly(copy)
    return sum(delete_quietly(name) for name in gone)


def delete_quietly(name: str) -> bool:
    """Delete one stored file; False (and a warning) when storage refuses.

    Any error counts, not only OSError: object storage raises its client's
    own (botocore's ClientError, EndpointConnectionError...). The row is gone
    already, the rest of a batch must still go, and cleanup_media --orphans
    retries the file later; an after-commit delete must never become a 500.
    """
    try:
        default_storage.delete(name)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        logger.warning("could not delete %s: %s", name, exc)
        return False
    return True


def _flush(using: str) -> None:
    names = _pending_names(using)
    if not names:
        return
    batch = set(names)
    names.clear()
    delete_unreferenced(batch, using=using)


def delete_unreferenced_on_commit(
    names: Iterable[str], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Delete these files after the current transaction commits (at once in
    autocommit), unless a row still references them then."""
    names = [name for name in names if name]
    if not names:
        return
    _pending_names(using).update(names)
    transaction.on_commit(lambda: _flush(using), using=using)


# Listing ------------------------------------------------------------------------


def walk(storage, folder: str) -> Iterator[str]:
    if isinstance(storage, FileSystemStorage):
        yield from _walk_local(Path(storage.location), folder)
        return
    try:
        dirs, names = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(names):
        yield f"{folder}/{name}"
    for sub in sorted(dirs):
        yield from walk(storage, f"{folder}/{sub}")


def _walk_local(root: Path, folder: str) -> Iterator[str]:
    """Regular files under ``root/folder``, never through a symbolic link.

    The storage API's listdir follows links, so a link planted in a media
    folder (by mistake, or by anyone who can write there) would have led the
    orphan sweep to delete files anywhere on the machine. Links are skipped,
    and every directory must resolve inside the media root.
    """
    real_root = root.resolve()
    directory = root / folder
    try:
        if not directory.resolve().is_relative_to(real_root):
            return
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            yield f"{folder}/{entry.name}"
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_local(root, f"{folder}/{entry.name}")


def _photo_deleted(sender, instance: Photo, using: str, **kwargs) -> None:
    delete_unreferenced_on_commit(
        [instance.original.name, instance.preview_proxy.name], using=using
    )


def _artwork_deleted(sender, instance: Artwork, using: str, **kwargs) -> None:
    delete_unreferenced_on_commit(
        [instance.result.name, instance.thumbnail.name, instance.animation.name],
        using=using,
    )


def connect_signals() -> None:
    post_delete.connect(
        _photo_deleted, sender=Photo, dispatch_uid="gallery.storage.files.photo_deleted"
    )
    post_delete.connect(
        _artwork_deleted,
        sender=Artwork,
        dispatch_uid="gallery.storage.files.artwork_deleted",
    )
