"""Where a render job's time goes, from dequeue to done (not a test).

Runs the studio's real worker class (``gallery.pipeline.workers.StudioWorker``)
in burst mode on N queued artworks of distinct photos, with cProfile around
``perform_job`` in the process that runs the job (the forked work horse, or
the kept job process), and the parent's clock around each job. Prints the
median wall time per job from dequeue to done, and the mean time per job of
each stage (cumulative cProfile time of the functions that implement it).

    .venv/bin/python -m artstudio_site.launcher with-redis -- \\
        .venv/bin/python benchmarks/profile_job.py [--jobs 30] [--megapixels 2]

Without DATABASE_URL it uses a throw-away SQLite database; media go to a
throw-away folder either way.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

# (label, file name ending, function name): cumulative time of each per job.
STAGES = [
    ("job function (render_artwork)", "pipeline/jobs.py", "render_artwork"),
    ("  claim + fetch rows", "pipeline/jobs.py", "claim"),
    ("  dedup lookup", "pipeline/dedup.py", "reuse_result"),
    ("  recipe lock", "pipeline/dedup.py", "recipe_lock"),
    ("  read original (storage)", "django/core/files/base.py", "read"),
    ("  decode", "processing/codec.py", "decode"),
    ("  heap back after decode (malloc_trim)", "pipeline/memory.py", "release_heap"),
    ("  preview proxy (resize)", "pipeline/proxy.py", "proxy_pixels"),
    ("  preview proxy (encode + store)", "pipeline/proxy.py", "store_proxy"),
    ("  render", "processing/styles.py", "render"),
    ("  encode result + thumbnail", "processing/codec.py", "encode"),
    ("  thumbnail resize", "processing/codec.py", "make_thumbnail"),
    ("  storage writes", "django/core/files/storage/base.py", "save"),
    ("  progress to Redis", "pipeline/jobs.py", "_report"),
    ("  store result (row update)", "pipeline/jobs.py", "store_result"),
    ("  refresh_from_db", "django/db/models/base.py", "refresh_from_db"),
    ("database connect", "django/db/backends/base/base.py", "connect"),
    ("all SQL", "django/db/backends/utils.py", "execute"),
    ("rq perform_job (all)", "rq/worker/base.py", "perform_job"),
]


def with_worker_malloc() -> None:
    """Run this script again with the render workers' ``GLIBC_TUNABLES``
    (the launcher's and compose's), unless some are set: glibc reads them
    only when a process starts, and the job processes are forked from this
    one."""
    if "GLIBC_TUNABLES" not in os.environ:
        from artstudio_site.launcher import WORKER_GLIBC_TUNABLES

        env = {**os.environ, "GLIBC_TUNABLES": WORKER_GLIBC_TUNABLES}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def setup(args) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="studio-profile-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artstudio_site.settings")
    os.environ["STUDIO_VAR_DIR"] = str(tmp)
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    # This process is the worker (it forks the job processes): loaded as the
    # launcher and compose load one (launcher.worker_env).
    os.environ.setdefault("STUDIO_WORKER_ONLY", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return tmp


def make_artworks(args) -> list[int]:
    import io

    from bench_load import distinct_photos
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    import processing
    from gallery.services import Recipe, artworks_create

    user = get_user_model().objects.create_user(f"profile{time.time_ns()}")
    styles = list(processing.STYLES)
    ids = []
    for i, data in enumerate(distinct_photos(args.jobs, args.megapixels)):
        style = args.style or styles[i % len(styles)]
        upload = SimpleUploadedFile("p.jpg", data, "image/jpeg")
        info = processing.inspect(io.BytesIO(data))
        recipe = Recipe(style, processing.validate_params(style, {}))
        ids += [a.pk for a in artworks_create(user, upload, info, [recipe])]
    return ids


def main() -> int:
    with_worker_malloc()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--style", default="", help="one style for every job")
    args = parser.parse_args()
    tmp = setup(args)
    from django.conf import settings

    settings.STUDIO_MAX_UNFINISHED_PER_USER = 10**6
    from gallery.models import Artwork
    from gallery.pipeline import workers
    from gallery.pipeline.queue import get_queue

    queue = get_queue()
    queue.connection.flushdb()
    ids = make_artworks(args)
    prof_dir = tmp / "profiles"
    prof_dir.mkdir()
    walls: list[float] = []

    class ProfiledWorker(workers.StudioWorker):
        def perform_job(self, job, queue):  # runs where the job runs
            profile = cProfile.Profile()
            profile.enable()
            try:
                return super().perform_job(job, queue)
            finally:
                profile.disable()
                profile.dump_stats(prof_dir / f"{job.id}.prof")

        def execute_job(self, job, queue):  # the worker process's view
            started = time.perf_counter()
            try:
                return super().execute_job(job, queue)
            finally:
                walls.append(time.perf_counter() - started)

    worker = ProfiledWorker([queue], connection=queue.connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    total = time.perf_counter() - started
    done = Artwork.objects.filter(pk__in=ids, status=Artwork.Status.DONE).count()
    files = sorted(prof_dir.glob("*.prof"))
    stats = pstats.Stats(*map(str, files))
    per_job = len(files) or 1
    print(
        f"{done}/{len(ids)} done, {args.megapixels} MP photos, styles "
        f"{args.style or 'all in turn'}, worker {workers.StudioWorker.__name__}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(f"burst wall time {total:.2f} s = {total / len(ids) * 1000:.0f} ms per job")
    print(
        f"dequeue -> done, worker's clock: median {statistics.median(walls) * 1000:.0f} ms"
        f", mean {statistics.mean(walls) * 1000:.0f} ms"
    )
    print(f"\n{'stage (cProfile cumulative, mean per job)':<44}{'ms':>8}")
    for label, suffix, name in STAGES:
        seconds = sum(
            ct
            for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in (
                stats.stats.items()
            )
            if func == name and filename.endswith(suffix)
        )
        print(f"{label:<44}{seconds / per_job * 1000:>8.1f}")

    def calls(suffix: str, name: str) -> float:
        return (
            sum(
                nc
                for (filename, _line, func), (_cc, nc, *_rest) in stats.stats.items()
                if func == name and filename.endswith(suffix)
            )
            / per_job
        )

    sql = calls("django/db/backends/utils.py", "_execute")
    redis_calls = (
        calls("redis/client.py", "_execute_command")
        + calls("redis/client.py", "_execute_transaction")
        + calls("redis/client.py", "_execute_pipeline")
    )
    print(
        f"\nper job in the job process: {sql:.1f} SQL statements, "
        f"{redis_calls:.1f} Redis round trips"
    )
    print("\nengine only (decode, render, encode, thumbnail; warm, this process):")
    from engine_only import engine_job

    import processing

    processing.warm_up()
    items = []
    for artwork in Artwork.objects.filter(pk__in=ids).select_related("photo"):
        with artwork.photo.original.open("rb") as handle:
            items.append((handle.read(), artwork.style))
    for data, style in items[:5]:
        engine_job(data, style)  # warm caches
    started = time.perf_counter()
    for data, style in items:
        engine_job(data, style)
    engine = (time.perf_counter() - started) / len(items)
    print(
        f"  {engine * 1000:.0f} ms per photo; pipeline / engine = "
        f"{statistics.mean(walls) / engine:.2f} (dequeue -> done, mean)"
    )
    print(f"\nprofiles: {prof_dir} (pstats files, one per job)")
    return 0 if done == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
