"""cleanup_media and the retention service behind it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from gallery.models import Artwork, Photo, Report
from gallery.storage import files, retention
from tests.gallery.media_rows import (
    age_file,
    all_file_names,
    make_artwork,
    make_photo,
    names_referenced,
)

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[3]


def cleanup(*args: str) -> list[str]:
    out = StringIO()
    call_command("cleanup_media", *args, stdout=out)
    return out.getvalue().splitlines()


def orphan(root, folder: str, hours_old: float, size: int = 1000) -> str:
    name = default_storage.save(f"{folder}/ab/orphan.jpg", ContentFile(b"x" * size))
    age_file(root, name, hours_old)
    return name


@pytest.fixture
def scene(owner, other, media_root):
    """A bit of everything, with what a full cleanup must delete and keep."""
    s = {}
    old = make_photo(owner, days_old=40)
    s["old_a"] = make_artwork(old, days_old=40)
    s["old_b"] = make_artwork(old, days_old=40, status=Artwork.Status.FAILED)
    s["old_photo"] = old
    # An old photo with a queued artwork: neither the photo nor it is touched,
    # but its finished old sibling goes.
    busy = make_photo(owner, days_old=40)
    s["queued"] = make_artwork(busy, days_old=40, status=Artwork.Status.QUEUED)
    s["busy_done"] = make_artwork(busy, days_old=40)
    s["busy_photo"] = busy
    s["processing"] = make_artwork(
        make_photo(other, days_old=60), days_old=60, status=Artwork.Status.PROCESSING
    )
    # A recent artwork sharing files with an old one: the files must stay.
    s["old_shared"] = make_artwork(make_photo(other, days_old=40), days_old=40)
    s["new_twin"] = make_artwork(make_photo(owner), share_files_of=s["old_shared"])
    # Failed artworks: 10 days (goes with the default 7) and 2 days (stays).
    s["failed_old"] = make_artwork(
        make_photo(other, days_old=10),
        days_old=10,
        status=Artwork.Status.FAILED,
        error="bad",
    )
    recent_photo = make_photo(other, days_old=10)
    s["failed_sibling"] = make_artwork(
        recent_photo, days_old=10, status=Artwork.Status.FAILED
    )
    s["done_sibling"] = make_artwork(recent_photo)
    s["failed_new"] = make_artwork(
        make_photo(other, days_old=2), days_old=2, status=Artwork.Status.FAILED
    )
    s["orphan_old"] = orphan(media_root, "results", hours_old=3, size=1234)
    s["orphan_young"] = default_storage.save(
        "originals/cd/in-flight.jpg", ContentFile(b"y" * 10)
    )
    return s


def test_dry_run_deletes_nothing_and_matches_the_real_run(settings, scene, media_root):
    settings.STUDIO_RETENTION_DAYS = 30
    files_before = all_file_names(media_root)
    photos, artworks = Photo.objects.count(), Artwork.objects.count()

    dry = cleanup("--dry-run")

    assert all_file_names(media_root) == files_before
    assert (Photo.objects.count(), Artwork.objects.count()) == (photos, artworks)
    real = cleanup()
    assert [line.replace("would delete", "deleted") for line in dry] == real
    # old photo (2 artworks), the old shared one, the failed-only photo; the
    # old done artwork beside the queued one, and the failed one beside a
    # recent done one go alone.
    assert real[0].startswith(
        "rows: deleted 3 photo(s), 6 artwork(s) (3 expired, 3 failed), "
    ), real
    assert "orphans: deleted 1 file(s), 1.2 KB (1234 bytes)" in real


def test_real_run_leaves_no_orphans_and_no_dangling_rows(settings, scene, media_root):
    settings.STUDIO_RETENTION_DAYS = 30
    cleanup()

    files = all_file_names(media_root)
    referenced = names_referenced()
    assert referenced <= files, "a row points at a missing file"
    assert files - referenced == {scene["orphan_young"]}
    # What had to go, went; what had to stay, stayed.
    gone = ["old_a", "old_b", "busy_done", "old_shared", "failed_old", "failed_sibling"]
    assert not Artwork.objects.filter(pk__in=[scene[k].pk for k in gone]).exists()
    assert not Photo.objects.filter(pk=scene["old_photo"].pk).exists()
    kept = ["queued", "processing", "new_twin", "done_sibling", "failed_new"]
    assert Artwork.objects.filter(pk__in=[scene[k].pk for k in kept]).count() == 5
    assert Photo.objects.filter(pk=scene["busy_photo"].pk).exists()


def test_queued_and_processing_artworks_are_never_touched(settings, owner, media_root):
    settings.STUDIO_RETENTION_DAYS = 1
    queued = make_artwork(
        make_photo(owner, days_old=400), days_old=400, status=Artwork.Status.QUEUED
    )
    processing = make_artwork(
        make_photo(owner, days_old=400),
        days_old=400,
        status=Artwork.Status.PROCESSING,
    )
    for artwork in (queued, processing):
        age_file(media_root, artwork.photo.original.name, hours=24 * 400)

    cleanup("--older-than", "0d")
    cleanup("--failed", "--older-than", "0d")
    cleanup("--orphans")

    for artwork in (queued, processing):
        before = (artwork.status, artwork.photo_id, artwork.photo.original.name)
        artwork.refresh_from_db()
        assert (artwork.status, artwork.photo_id) == before[:2]
        assert default_storage.exists(before[2])


def test_retention_is_off_by_default(scene):
    lines = cleanup()
    assert "expired: off (STUDIO_RETENTION_DAYS is 0)" in lines
    assert Artwork.objects.filter(pk=scene["old_a"].pk).exists()
    assert not Artwork.objects.filter(pk=scene["failed_old"].pk).exists()


def test_older_than_flag_runs_only_retention(scene, media_root):
    lines = cleanup("--older-than", "30d")
    assert [line.split(":")[0] for line in lines] == ["rows", "total"]
    assert not Artwork.objects.filter(pk=scene["old_a"].pk).exists()
    # Failed and orphans were not asked for.
    assert Artwork.objects.filter(pk=scene["failed_old"].pk).exists()
    assert default_storage.exists(scene["orphan_old"])


def test_failed_flag_with_age(scene):
    cleanup("--failed", "--older-than", "1d")
    assert not Artwork.objects.filter(
        pk__in=[scene["failed_old"].pk, scene["failed_new"].pk]
    ).exists()
    assert Artwork.objects.filter(pk=scene["old_a"].pk).exists()


def test_second_run_finds_nothing(settings, scene):
    settings.STUDIO_RETENTION_DAYS = 30
    cleanup()
    assert cleanup()[-1] == (
        "total: deleted 0 photo(s), 0 artwork(s) (0 expired, 0 failed), "
        "0 stray file(s), 0 bytes (0 bytes)"
    )


def test_batch_size_one_gives_the_same_result(settings, scene):
    settings.STUDIO_RETENTION_DAYS = 30
    assert cleanup("--dry-run", "--batch-size", "1") == cleanup("--dry-run")
    lines = cleanup("--batch-size", "1")
    assert lines[-1].startswith(
        "total: deleted 3 photo(s), 6 artwork(s) (3 expired, 3 failed), 1 stray file(s)"
    )


def test_concurrent_runs_delete_each_row_once(settings, scene):
    settings.STUDIO_RETENTION_DAYS = 30
    expected = retention.run_cleanup(
        expired_after=timedelta(days=30),
        failed_after=timedelta(days=7),
        orphans=False,
        dry_run=True,
    ).total
    results, errors = [], []

    def run() -> None:
        try:
            results.append(
                retention.run_cleanup(
                    expired_after=timedelta(days=30),
                    failed_after=timedelta(days=7),
                    orphans=False,
                    batch_size=1,
                ).total
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(r.photos for r in results) == expected.photos
    assert sum(r.artworks for r in results) == expected.artworks
    assert sum(r.bytes for r in results) == expected.bytes


def test_stale_upload_temp_files_are_removed(settings, tmp_path):
    temp = tmp_path / "uploads-tmp"
    temp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)
    stale = temp / "tmpab12cd.upload.jpg"
    fresh = temp / "tmpzz99yy.upload.png"
    unrelated = temp / "notes.txt"
    for path in (stale, fresh, unrelated):
        path.write_bytes(b"z" * 100)
    then = (stale.stat().st_mtime) - 3 * 3600
    os.utime(stale, (then, then))
    os.utime(unrelated, (then, then))

    assert "temp: would delete 1 file(s), 100 bytes (100 bytes)" in cleanup(
        "--orphans", "--dry-run"
    )
    assert stale.exists()
    cleanup("--orphans")
    assert not stale.exists() and fresh.exists() and unrelated.exists()


def test_young_orphans_are_kept_old_ones_go(media_root):
    young = orphan(media_root, "thumbnails", hours_old=0.5)
    old = default_storage.save("originals/ef/old.jpg", ContentFile(b"o" * 10))
    age_file(media_root, old, hours=2)
    cleanup("--orphans")
    assert default_storage.exists(young) and not default_storage.exists(old)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--older-than", "3 weeks"], "invalid age"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_bad_arguments_are_errors(args, message):
    with pytest.raises(CommandError, match=message):
        cleanup(*args)


def test_bad_age_exits_non_zero_from_the_shell(tmp_path):
    env = {**os.environ, "STUDIO_VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run(
        [sys.executable, "manage.py", "cleanup_media", "--older-than", "3x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "invalid age" in result.stderr


def test_failure_midway_exits_non_zero(monkeypatch, scene):
    def broken(*args, **kwargs):
        raise OSError("storage unreachable")

    # The local walk lists folders itself (it must not follow links).
    monkeypatch.setattr(files.os, "scandir", broken)
    with pytest.raises(CommandError, match="storage unreachable"):
        cleanup("--orphans")


def test_files_go_after_the_batch_commits_with_reports(
    monkeypatch, owner, other, media_root
):
    photo = make_photo(owner, days_old=40)
    artworks = [make_artwork(photo, days_old=40) for _ in range(2)]
    Report.objects.create(artwork=artworks[0], reporter=other, reason="spam")
    names = {photo.original.name} | {
        n for a in artworks for n in (a.result.name, a.thumbnail.name)
    }
    calls = []
    delete_unreferenced = files.delete_unreferenced

    def spy(batch, **kwargs):
        calls.append((set(batch), connection.in_atomic_block))
        return delete_unreferenced(batch, **kwargs)

    monkeypatch.setattr(files, "delete_unreferenced", spy)
    cleanup("--older-than", "30d")

    assert calls == [(names, False)]
    assert not Report.objects.exists() and not Photo.objects.exists()
    assert not all_file_names(media_root) & names


def test_sparse_rows_across_batches(owner, media_root):
    # Deletable rows scattered among kept ones, over several batches: every
    # deletable row is found once, dry run and real run alike.
    for i in range(9):
        photo = make_photo(owner, days_old=40 if i % 3 else 0)
        make_artwork(photo, days_old=40 if i % 3 else 0)
        if i % 4 == 0:
            make_artwork(photo, status=Artwork.Status.QUEUED)
    dry = cleanup("--older-than", "30d", "--dry-run", "--batch-size", "3")
    real = cleanup("--older-than", "30d", "--batch-size", "3")

    assert [line.replace("would delete", "deleted") for line in dry] == real
    # 6 old photos; the two with a queued artwork (i=4, 8) keep it and the
    # photo, and lose only their old done artwork.
    assert real[0].startswith("rows: deleted 4 photo(s), 6 artwork(s)"), real
    assert Photo.objects.count() == 5
    assert Artwork.objects.filter(status=Artwork.Status.QUEUED).count() == 3


def test_the_orphan_sweep_never_follows_a_symbolic_link(media_root, tmp_path):
    """listdir follows links: a link planted in a media folder led the sweep
    to delete files anywhere on the machine."""
    outside = tmp_path / "elsewhere"
    (outside / "deep").mkdir(parents=True)
    precious = [outside / "keep.jpg", outside / "deep" / "keep.jpg"]
    for path in precious:
        path.write_bytes(b"precious")
        old = path.stat().st_mtime - 7 * 24 * 3600
        os.utime(path, (old, old))
    (media_root / "results").mkdir(exist_ok=True)
    (media_root / "results" / "linked-dir").symlink_to(
        outside, target_is_directory=True
    )
    (media_root / "originals" / "ab").mkdir(parents=True, exist_ok=True)
    (media_root / "originals" / "ab" / "linked.jpg").symlink_to(precious[0])
    stray = default_storage.save("originals/ab/stray.jpg", ContentFile(b"s"))
    age_file(media_root, stray, hours=2)
    cleanup("--orphans")
    assert all(path.read_bytes() == b"precious" for path in precious)
    assert (media_root / "originals" / "ab" / "linked.jpg").is_symlink()
    assert not default_storage.exists(stray)  # real orphans still go


def test_a_storage_error_on_delete_leaves_the_rest_of_the_batch_going(
    owner, media_root, monkeypatch
):
    """Object storage raises its own errors (botocore's ClientError is not an
    OSError): after commit that was a 500 and the rest of the batch stayed."""
    from botocore.exceptions import ClientError

    artworks = [make_artwork(make_photo(owner)) for _ in range(3)]
    broken = artworks[0].result.name
    real_delete = FileSystemStorage.delete

    def delete(self, name):
        if name == broken:
            raise ClientError(
                {"Error": {"Code": "503", "Message": "Slow Down"}}, "DeleteObject"
            )
        return real_delete(self, name)

    monkeypatch.setattr(FileSystemStorage, "delete", delete)
    Artwork.objects.filter(pk__in=[a.pk for a in artworks]).delete()
    left = all_file_names(media_root)
    assert broken in left
    for artwork in artworks[1:]:
        assert artwork.result.name not in left and artwork.thumbnail.name not in left
