"""Retention: the one service that deletes old rows and stray files.

Used by ``manage.py cleanup_media`` (scheduled daily in compose) and by the
admin's "purge failed" action. Three steps:

- rows: photos and artworks older than ``STUDIO_RETENTION_DAYS`` (off by
  default), and failed artworks older than ``STUDIO_FAILED_RETENTION_DAYS``;
- orphans: files under the media folders that no row references, once older
  than ``STUDIO_ORPHAN_GRACE_HOURS`` (an upload writes its file before its
  row commits, so a young unreferenced file may be in flight);
- temp: Django upload temporary files left behind by a killed web process.

Rules every step keeps:

- A queued or processing artwork is never touched, and neither is its photo.
- Rows go in batches, keyset-paginated by id; each batch is one transaction
  that re-checks the conditions under a row lock, so a row re-queued in the
  meantime (a retry, a re-render) is skipped and two runs at once delete
  each row once. A photo goes with its artworks only when all of them are
  deletable; otherwise only the deletable artworks go, as when a user
  deletes them one by one.
- Files follow rows (``gallery.storage.files``): a deleted row's files are removed
  after its batch commits, unless another row shares them.
- A dry run evaluates exactly the same queries and reports the same counts.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from gallery.models import MEDIA_FOLDERS, Artwork, Photo
from gallery.storage import files

logger = logging.getLogger(__name__)
# Django's TemporaryUploadedFile names: tmpXXXXXXXX.upload.<ext>
TEMP_UPLOAD_PATTERN = "tmp*.upload*"
DEFAULT_BATCH_SIZE = 500


@dataclass
class StepResult:
    """What one step deleted (or, in a dry run, would delete).

    Bytes are those recorded on the rows (original, result, thumbnail) for
    the row step, and measured file sizes for the file steps. A file shared
    with a row that stays is counted but kept.
    """

    step: str
    photos: int = 0
    artworks: int = 0
    files: int = 0
    bytes: int = 0
    # The row step's artworks by reason (retention age / failed).
    expired: int = 0
    failed: int = 0

    def add(self, other: StepResult) -> None:
        self.photos += other.photos
        self.artworks += other.artworks
        self.files += other.files
        self.bytes += other.bytes
        self.expired += other.expired
        self.failed += other.failed


@dataclass
class CleanupReport:
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)

    @property
    def total(self) -> StepResult:
        total = StepResult("total")
        for step in self.steps:
            total.add(step)
        return total


# Rows --------------------------------------------------------------------------


def expired_condition(cutoff) -> Q:
    """Artworks that retention may delete: finished and created before cutoff."""
    return Q(created__lt=cutoff, status__in=Artwork.FINISHED)


def failed_condition(cutoff) -> Q:
    """Failed artworks that finished (or, lacking a time, began) before cutoff."""
    return Q(status=Artwork.Status.FAILED) & (
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created__lt=cutoff)
    )


def _id_batches(queryset, batch_size: int) -> Iterator[list[int]]:
    # Keyset pagination: cheap on millions of rows, and a row that could not
    # be deleted (re-queued meanwhile) is not fetched again and again.
    last = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def _locked_batches(
    queryset: QuerySet,
    lock: Callable[[list[int]], list[QuerySet]],
    *,
    dry_run: bool,
    batch_size: int,
) -> Iterator[list[int]]:
    """Ids of ``queryset`` in batches, each batch inside its own transaction.

    Each batch locks the rows ``lock(ids)`` names, then re-checks the
    conditions: a retry or re-render that re-queued a row since the batch was
    read either waits for this transaction or has already made it ineligible.
    The caller deletes the yielded ids before asking for the next batch. A dry
    run only reads: no transaction, so it never takes SQLite's write lock.
    """
    for ids in _id_batches(queryset, batch_size):
        with contextlib.nullcontext() if dry_run else transaction.atomic():
            if not dry_run:
                for rows in lock(ids):
                    list(rows.select_for_update().values_list("pk", flat=True))
            ids = list(queryset.filter(pk__in=ids).values_list("pk", flat=True))
            if ids:
                yield ids


def _count_reasons(result: StepResult, artworks, failed: Q | None) -> None:
    total = artworks.count()
    failed_count = artworks.filter(failed).count() if failed is not None else 0
    result.artworks += total
    result.failed += failed_count
    result.expired += total - failed_count


def purge_rows(
    *,
    expired_after: timedelta | None = None,
    failed_after: timedelta | None = None,
    artwork_ids: list[int] | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> StepResult:
    """Delete finished artworks past the retention age, failed ones past the
    failed age, and photos left with nothing worth keeping.

    Both ages are applied in one pass over one "deletable" condition, so a
    dry run sees exactly what the real run deletes (two separate passes
    would interact: the first one's deletions change what the second finds).
    A photo goes, with all its artworks, when every artwork is deletable (or,
    past the retention age, when it has none); otherwise only its deletable
    artworks go. ``artwork_ids`` narrows the pass (the admin's purge action).
    """
    result = StepResult("rows")
    now = timezone.now()
    deletable = Q(pk__in=[])
    failed = None
    photo_filter = Exists(Artwork.objects.filter(photo=OuterRef("pk")))
    if expired_after is not None:
        deletable |= expired_condition(now - expired_after)
        photo_filter = Q(photo_filter) | Q(created__lt=now - expired_after)
    if failed_after is not None:
        failed = failed_condition(now - failed_after)
        deletable |= failed
    if artwork_ids is not None:
        deletable &= Q(pk__in=artwork_ids)
        photo_filter = Q(
            pk__in=Artwork.objects.filter(pk__in=artwork_ids).values("photo")
        )
    if expired_after is None and failed_after is None:
        return result

    keeps = Artwork.objects.filter(photo=OuterRef("pk")).exclude(deletable)
    photos = Photo.objects.filter(photo_filter).exclude(Exists(keeps))
    for ids in _locked_batches(
        photos,
        lambda ids: [
            Photo.objects.filter(pk__in=ids),
            Artwork.objects.filter(photo_id__in=ids),
        ],
        dry_run=dry_run,
        batch_size=batch_size,
    ):
        batch_photos = Photo.objects.filter(pk__in=ids)
        batch_artworks = Artwork.objects.filter(photo_id__in=ids)
        result.photos += len(ids)
        _count_reasons(result, batch_artworks, failed)
        result.bytes += int(
            batch_photos.aggregate(total=Sum("byte_size"))["total"] or 0
        )
        result.bytes += batch_artworks.stored_bytes()
        if not dry_run:
            batch_photos.delete()  # cascades to the artworks and reports

    # What is left: deletable artworks whose photo keeps another artwork. In
    # a real run the photos above are gone; stated this way a dry run, where
    # they are not, gets the same answer.
    sibling_keeps = Artwork.objects.filter(photo=OuterRef("photo")).exclude(deletable)
    artworks = Artwork.objects.filter(deletable).filter(Exists(sibling_keeps))
    for ids in _locked_batches(
        artworks,
        lambda ids: [Artwork.objects.filter(pk__in=ids)],
        dry_run=dry_run,
        batch_size=batch_size,
    ):
        batch = Artwork.objects.filter(pk__in=ids)
        _count_reasons(result, batch, failed)
        result.bytes += batch.stored_bytes()
        if not dry_run:
            batch.delete()
    return result


def purge_failed(
    older_than: timedelta,
    *,
    artwork_ids: list[int] | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> StepResult:
    """Delete failed artworks that failed more than ``older_than`` ago, and
    their photo when no other artwork is left on it."""
    return purge_rows(
        failed_after=older_than,
        artwork_ids=artwork_ids,
        dry_run=dry_run,
        batch_size=batch_size,
    )


# Files -------------------------------------------------------------------------


def _chunks(names: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for name in names:
        chunk.append(name)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def purge_orphan_files(
    grace: timedelta,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> StepResult:
    """Delete stored files that no row references and that are older than
    ``grace`` (a younger file may belong to an upload still committing)."""
    result = StepResult("orphans")
    storage = default_storage
    cutoff = timezone.now() - grace
    for folder in MEDIA_FOLDERS:
        for names in _chunks(files.walk(storage, folder), batch_size):
            referenced = files.referenced_names(names)
            for name in names:
                if name in referenced:
                    continue
                try:
                    if storage.get_modified_time(name) >= cutoff:
                        continue
                    size = storage.size(name)
                except FileNotFoundError:
                    continue  # deleted meanwhile (a concurrent run)
                result.files += 1
                result.bytes += size
                if not dry_run:
                    files.delete_quietly(name)
    return result


def temp_upload_dir() -> Path:
    return Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())


def purge_temp_files(grace: timedelta, *, dry_run: bool = False) -> StepResult:
    """Delete Django upload temporary files older than ``grace``.

    Normally Django removes them when the request ends; a web process killed
    mid-upload leaves them. Only files of this process's user are touched,
    since the folder may be the machine's shared /tmp.
    """
    result = StepResult("temp")
    cutoff = (timezone.now() - grace).timestamp()
    folder = temp_upload_dir()
    uid = os.getuid()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return result
    for entry in entries:
        if not fnmatch.fnmatch(entry.name, TEMP_UPLOAD_PATTERN):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not entry.is_file(follow_symlinks=False) or info.st_uid != uid:
            continue
        if info.st_mtime >= cutoff:
            continue
        result.files += 1
        result.bytes += info.st_size
        if not dry_run:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
    return result


# All of it -----------------------------------------------------------------------


def run_cleanup(
    *,
    expired_after: timedelta | None,
    failed_after: timedelta | None,
    orphans: bool,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> CleanupReport:
    """Run the selected steps in order; a None age skips that step."""
    report = CleanupReport(dry_run=dry_run)
    if expired_after is not None or failed_after is not None:
        report.steps.append(
            purge_rows(
                expired_after=expired_after,
                failed_after=failed_after,
                dry_run=dry_run,
                batch_size=batch_size,
            )
        )
    if orphans:
        grace = timedelta(hours=settings.STUDIO_ORPHAN_GRACE_HOURS)
        report.steps.append(
            purge_orphan_files(grace, dry_run=dry_run, batch_size=batch_size)
        )
        report.steps.append(purge_temp_files(grace, dry_run=dry_run))
    return report


def configured_ages() -> tuple[timedelta | None, timedelta | None]:
    """(expired, failed) ages from the settings; None where a setting is 0."""
    days = settings.STUDIO_RETENTION_DAYS
    failed_days = settings.STUDIO_FAILED_RETENTION_DAYS
    return (
        timedelta(days=days) if days > 0 else None,
        timedelta(days=failed_days) if failed_days > 0 else None,
    )
