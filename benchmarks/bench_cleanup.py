"""Throughput of ``cleanup_media --older-than 30d`` on a seeded database.

Run: ``make bench-cleanup`` or ``.venv/bin/python benchmarks/bench_cleanup.py
[--sizes 5000,10000,20000]``
(or ``--photos N`` for one size; ``--tmpdir /dev/shm`` to measure the code
rather than the disk).

For each size, in a throw-away var dir (its own SQLite file and MEDIA_ROOT,
so the developer's database is never touched): migrate, seed N photos with
two artworks each and tiny real files under the names the upload_to
functions generate, then time the dry run and the real run, each in a fresh
process so peak RSS is that run's own. Most rows are 40 days old; some are
recent, some have a queued or processing artwork, some a failed one, and a
few artworks share result/thumbnail files (dedup) with a recent or another
old artwork. After the real run the script checks what must survive did:
queued and processing artworks, recent rows, and every file a remaining row
references; and that the dry run reported the same counts as the real run.

Photos/s should stay roughly constant across sizes: a falling rate means
something in the row step grows faster than the number of rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS_OLD = 40


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artstudio_site.settings")
    if not os.environ.get("STUDIO_VAR_DIR") or os.environ.get("DATABASE_URL"):
        # Only ever the child processes started below, with their temp dir.
        sys.exit("bench_cleanup: run without --child (no DATABASE_URL)")
    import django

    django.setup()


def _kind(i: int) -> str:
    """What photo ``i`` is; the mix is fixed so every size has the same shape."""
    if i % 50 == 0:
        return "recent"  # both artworks recent: all stays
    if i % 100 == 1:
        return "queued"  # an old queued artwork: photo stays, done sibling goes
    if i % 100 == 2:
        return "processing"
    if i % 25 == 3:
        return "failed"  # one old failed artwork: goes with the photo
    return "old"


def seed(photos: int) -> dict:
    _setup()
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from gallery.models import (
        Artwork,
        Photo,
        original_upload_to,
        result_upload_to,
        thumbnail_upload_to,
    )

    call_command("migrate", verbosity=0)
    media = Path(settings.MEDIA_ROOT)
    owner = get_user_model().objects.create_user("bench", password=None)
    made: set[Path] = set()

    def write(name: str, data: bytes) -> str:
        path = media / name
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(data)
        return name

    then = timezone.now() - timedelta(days=DAYS_OLD)
    started = time.perf_counter()
    chunk = 2000
    files = 0
    with transaction.atomic():
        for start in range(0, photos, chunk):
            indexes = range(start, min(start + chunk, photos))
            rows = [
                Photo(
                    owner=owner,
                    original=write(original_upload_to(None, "p.jpg"), b"photo"),
                    original_name=_kind(i),
                    format="JPEG",
                    width=64,
                    height=48,
                    byte_size=5,
                    content_hash=f"hash-{i}",
                )
                for i in indexes
            ]
            files += len(rows)
            Photo.objects.bulk_create(rows)
            artworks = []
            previous = recent = None
            for i, photo in zip(indexes, rows, strict=True):
                kind = _kind(i)
                for n in range(2):
                    status = Artwork.Status.DONE
                    if n == 0 and kind in ("queued", "processing", "failed"):
                        status = {
                            "queued": Artwork.Status.QUEUED,
                            "processing": Artwork.Status.PROCESSING,
                            "failed": Artwork.Status.FAILED,
                        }[kind]
                    artwork = Artwork(
                        photo=photo,
                        owner=owner,
                        style="pencil",
                        params={},
                        engine_version="recent" if kind == "recent" else "old",
                        status=status,
                        queued_at=then,
                    )
                    if status == Artwork.Status.DONE:
                        # Dedup: the very same names as an old artwork
                        # (the file goes with the last of them) or a recent
                        # one (the file must stay).
                        twin = None
                        if n == 1 and i % 50 == 25:
                            twin = recent
                        elif n == 1 and i % 20 == 7:
                            twin = previous
                        if twin is not None:
                            artwork.result = twin.result.name
                            artwork.thumbnail = twin.thumbnail.name
                        else:
                            artwork.result = write(
                                result_upload_to(None, "r.jpg"), b"result"
                            )
                            artwork.thumbnail = write(
                                thumbnail_upload_to(None, "t.jpg"), b"thumb"
                            )
                            files += 2
                        artwork.result_bytes, artwork.thumbnail_bytes = 6, 5
                    if status in (Artwork.Status.DONE, Artwork.Status.FAILED):
                        artwork.started_at = artwork.finished_at = then
                    artworks.append(artwork)
                previous = artworks[-1]
                if kind == "recent":
                    recent = artworks[-1]
            Artwork.objects.bulk_create(artworks)
        # auto_now_add wins in bulk_create: age the rows afterwards.
        Photo.objects.exclude(original_name="recent").update(created=then)
        Artwork.objects.filter(engine_version="old").update(created=then)
    # Flush the new files to disk: otherwise the real run's unlinks race the
    # kernel's delayed writeback of them, which starts ~30 s after seeding,
    # and a larger size (slower to seed) pays for it while a smaller does not.
    os.sync()
    return {
        "photos": Photo.objects.count(),
        "artworks": Artwork.objects.count(),
        "files": files,
        "seconds": time.perf_counter() - started,
    }


def run(dry_run: bool, profile: str | None) -> dict:
    _setup()
    from io import StringIO

    from django.core.files.storage import FileSystemStorage
    from django.core.management import call_command

    # Time spent unlinking files, reported apart: on a real disk it is a large
    # share of the run and depends on the machine, not on this code.
    unlink = [0.0]
    delete = FileSystemStorage.delete

    def timed_delete(self, name):
        started = time.perf_counter()
        try:
            return delete(self, name)
        finally:
            unlink[0] += time.perf_counter() - started

    FileSystemStorage.delete = timed_delete
    args = ["cleanup_media", "--older-than", "30d"] + (["--dry-run"] if dry_run else [])
    out = StringIO()
    started = time.perf_counter()
    if profile:
        import cProfile

        cProfile.runctx(
            "call_command(*args, stdout=out)", globals(), locals(), filename=profile
        )
    else:
        call_command(*args, stdout=out)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "unlink": unlink[0],
        # Before check(), which loads every remaining file name.
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "output": out.getvalue().splitlines(),
    }
    if not dry_run:
        result["problems"] = check()
    return result


def check() -> list[str]:
    """What a correct real run leaves behind; an empty list when it does."""
    from django.conf import settings
    from django.db.models import Q

    from gallery.models import Artwork, Photo

    problems = []
    media = Path(settings.MEDIA_ROOT)
    busy = Artwork.objects.filter(status__in=["queued", "processing"])
    for kind in ("queued", "processing"):
        photos = Photo.objects.filter(original_name=kind).count()
        if busy.filter(status=kind).count() != photos:
            problems.append(f"a {kind} artwork was deleted")
        if Artwork.objects.filter(photo__original_name=kind).count() != photos:
            problems.append(f"the done sibling of a {kind} artwork stayed")
    recent = Photo.objects.filter(original_name="recent")
    if Artwork.objects.filter(photo__in=recent).count() != 2 * recent.count():
        problems.append("a recent artwork was deleted")
    if Photo.objects.filter(~Q(original_name__in=["recent", "queued", "processing"])):
        problems.append("an old photo stayed")
    names = set(Photo.objects.values_list("original", flat=True))
    names |= set(Artwork.objects.values_list("result", flat=True))
    names |= set(Artwork.objects.values_list("thumbnail", flat=True))
    names.discard("")
    missing = [n for n in names if not (media / n).is_file()]
    if missing:
        problems.append(f"{len(missing)} referenced file(s) missing, e.g. {missing[0]}")
    on_disk = sum(1 for p in media.rglob("*") if p.is_file())
    if on_disk != len(names):
        problems.append(f"{on_disk - len(names)} unreferenced file(s) left")
    return problems


def _child(var_dir: Path, *args: str) -> dict:
    env = {**os.environ, "STUDIO_VAR_DIR": str(var_dir)}
    env.pop("DATABASE_URL", None)
    env.pop("MEDIA_ROOT", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def bench(photos: int, profile: str | None, keep: bool, tmpdir: str | None) -> dict:
    var_dir = Path(tempfile.mkdtemp(prefix="bench-cleanup-", dir=tmpdir))
    try:
        seeded = _child(var_dir, "seed", str(photos))
        dry = _child(var_dir, "dry")
        real = _child(var_dir, "real", *(["--profile", profile] if profile else []))
    finally:
        if keep:
            print(f"kept {var_dir}", file=sys.stderr)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    same = [line.replace("would delete", "deleted") for line in dry["output"]]
    if same != real["output"]:
        real["problems"].append(f"dry run {dry['output']} != real {real['output']}")
    return {"seeded": seeded, "dry": dry, "real": real}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, help="one size")
    parser.add_argument(
        "--sizes", default="5000,10000,20000", help="comma-separated sizes"
    )
    parser.add_argument("--profile", help="write a cProfile of the real run here")
    parser.add_argument(
        "--tmpdir",
        help="where the throw-away var dir goes (default: the system's temp dir); "
        "/dev/shm takes the disk, and its noise, out of the file unlinks",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp var dir")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        what = args.child[0]
        if what == "seed":
            out = seed(int(args.child[1]))
        else:
            out = run(what == "dry", args.profile)
        print(json.dumps(out))
        return

    if args.photos:
        sizes = [args.photos]
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
    header = (
        f"{'photos':>8} {'artworks':>9} {'files':>8} | {'run':<4} {'seconds':>8} "
        f"{'photos/s':>9} {'unlink s':>9} {'other s':>8} {'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    failures = []
    for size in sizes:
        profile = f"{args.profile}.{size}" if args.profile else None
        result = bench(size, profile, args.keep, args.tmpdir)
        seeded = result["seeded"]
        for name in ("dry", "real"):
            r = result[name]
            print(
                f"{seeded['photos']:>8} {seeded['artworks']:>9} {seeded['files']:>8} | "
                f"{name:<4} {r['seconds']:>8.2f} {size / r['seconds']:>9.0f} "
                f"{r['unlink']:>9.2f} {r['seconds'] - r['unlink']:>8.2f} "
                f"{r['rss_mb']:>7.0f}MB",
                flush=True,
            )
        print(f"{'':>29} {result['real']['output'][0]}")
        failures += [f"{size}: {p}" for p in result["real"]["problems"]]
    if failures:
        print("\nFAILED checks:\n" + "\n".join(failures))
        sys.exit(1)
    print("\nchecks passed: dry run == real run; busy, recent and shared kept")


if __name__ == "__main__":
    main()
