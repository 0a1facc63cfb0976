"""Peak memory of a whole 12 MP render job, per style (not a test).

Runs the studio's real worker (``StudioWorker``) in burst mode on one 12 MP
JPEG per style (distinct bytes, so every job decodes, stores the preview
proxy, renders, encodes and stores), after a 2 MP warm-up job. Around each
job, in the process that runs it, the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs``) and read back (``VmHWM``): the peak resident size
of that process during the job, including what it inherited from the worker.

Two worker models in the same run: the kept job process (the default) and
fork-per-job (``STUDIO_WORKER_RECYCLE_JOBS=1``: a fresh work horse for every
job). Target: at most 250 MB for every style. It runs with the render
workers' ``GLIBC_TUNABLES`` (``launcher.WORKER_GLIBC_TUNABLES``) unless the
variable is set.

    .venv/bin/python -m artstudio_site.launcher with-redis -- \\
        .venv/bin/python benchmarks/bench_job_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile_job import setup, with_worker_malloc  # noqa: E402

TARGET_MB = 250


def status_mb(field: str) -> float:
    for line in open("/proc/self/status"):
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def photo_in_subprocess(megapixels: float) -> bytes:
    """``bench_e2e.photo_jpeg`` made in a child process."""
    code = (
        "import sys; from bench_e2e import photo_jpeg; "
        f"sys.stdout.buffer.write(photo_jpeg({megapixels}))"
    )
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": here}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, check=True
    ).stdout


def main() -> int:
    with_worker_malloc()
    tmp = setup(None)
    import io

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    import processing
    from gallery.pipeline import memory, workers
    from gallery.pipeline.queue import get_queue
    from gallery.services import Recipe, artworks_create

    settings.STUDIO_MAX_UNFINISHED_PER_USER = 10**6
    # Every job on the queue at once, so its id is known before the worker
    # runs (the fair queue would hold all but STUDIO_QUEUE_SHARE back).
    settings.STUDIO_QUEUE_SHARE = 10**6
    queue = get_queue()
    user = get_user_model().objects.create_user(f"memory{time.time_ns()}")
    # This process forks the job processes: the test photos are made in a
    # process of their own (making a 12 MP one takes ~300 MB of float arrays
    # that glibc does not always give back), so the job processes start
    # from what a real worker holds.
    big, small = photo_in_subprocess(12), photo_in_subprocess(2)
    memory.release_heap()
    log = tmp / "peaks.jsonl"

    class MeasuredWorker(workers.StudioWorker):
        def perform_job(self, job, queue):  # runs in the job process
            Path("/proc/self/clear_refs").write_text("5")
            before = status_mb("VmRSS")
            try:
                return super().perform_job(job, queue)
            finally:
                with open(log, "a") as handle:
                    peak = status_mb("VmHWM")
                    record = {"job": job.id, "before": before, "peak": peak}
                    handle.write(json.dumps(record) + "\n")

    def upload(data: bytes, style: str) -> int:
        data = data + uuid.uuid4().bytes  # new bytes: no dedup, a new proxy
        info = processing.inspect(io.BytesIO(data))
        recipe = Recipe(style, processing.validate_params(style, {}))
        file = SimpleUploadedFile("p.jpg", data, "image/jpeg")
        (artwork,) = artworks_create(user, file, info, [recipe])
        artwork.refresh_from_db()  # the job id is recorded after the commit
        return artwork.job_id

    print(f"load average {os.getloadavg()[0]:.2f}; 12 MP JPEG, one job per style")
    rows = {}
    for model, recycle in (("kept job process", 100), ("fork per job", 1)):
        settings.STUDIO_WORKER_RECYCLE_JOBS = recycle
        queue.connection.flushdb()
        log.unlink(missing_ok=True)
        upload(small, "pencil")  # warm-up: the job process reaches steady state
        job_ids = {upload(big, style): style for style in processing.STYLES}
        MeasuredWorker([queue], connection=queue.connection).work(
            burst=True, logging_level="WARNING"
        )
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if record["job"] in job_ids:
                rows.setdefault(job_ids[record["job"]], {})[model] = record
    models = ("kept job process", "fork per job")
    print(f"\n{'style':<14}" + "".join(f"{m + ' peak MB':>24}" for m in models))
    worst = 0.0
    for style, by_model in rows.items():
        cells = ""
        for model in models:
            record = by_model.get(model)
            cells += (
                f"{record['peak']:>14.0f} (from {record['before']:.0f})"
                if record
                else f"{'-':>24}"
            )
        worst = max(worst, by_model.get(models[0], {}).get("peak", 0.0))
        print(f"{style:<14}{cells}")
    print(f"\nworst kept-process peak {worst:.0f} MB (target <= {TARGET_MB} MB)")
    return 0 if worst <= TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
