"""Requests lost when gunicorn recycles its workers (issue 11, item 3).

gunicorn's gthread worker with ``max_requests`` resets in-flight keep-alive
connections when it recycles (gunicorn issue 3038). This sends REQUESTS mixed
requests (GET /healthz, and anonymous multipart upload POSTs of a real JPEG to
/api/artworks/, which the app reads and answers 403) from CLIENTS keep-alive
clients, with ``max_requests`` low enough for several recycles, for each
worker class, straight to gunicorn and through the project's nginx
(deploy/nginx). A failure is a connection error or a 5xx. It also runs the
worker without ``max_requests`` and prints worker memory before and after, to
tell whether recycling is needed at all.

    .venv/bin/python benchmarks/bench_recycle.py            # the whole table
    .venv/bin/python benchmarks/bench_recycle.py --requests 2000 --only sync

Everything runs on loopback in a throw-away folder; nothing is left behind.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from artstudio_site.launcher import (  # noqa: E402
    free_loopback_port,
    nginx_command,
    start_embedded_redis,
    stop,
    write_nginx_config,
)


@dataclass
class Case:
    name: str
    worker_class: str
    max_requests: int
    proxy: bool


def photo() -> bytes:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def run_case(case: Case, args, tmp: Path, env: dict[str, str], body: bytes) -> dict:
    port = free_loopback_port()
    log = tmp / f"{case.name}.log"
    case_env = {
        **env,
        "GUNICORN_MAX_REQUESTS": str(case.max_requests),
        "GUNICORN_MAX_REQUESTS_JITTER": str(case.max_requests // 10),
        "WEB_CONCURRENCY": str(args.workers),
    }
    # The command line overrides gunicorn.conf.py. gunicorn quietly runs
    # gthread for "sync" when threads > 1, hence threads 1 for sync.
    worker = ["--worker-class", case.worker_class]
    worker += ["--threads", "4" if case.worker_class == "gthread" else "1"]
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "artstudio_site.wsgi:application",
            "--config", str(REPO / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null",
            "--error-logfile", str(log), *worker,
        ],
        cwd=REPO, env=case_env, start_new_session=True,
    )  # fmt: skip
    processes = [server]
    base = f"http://127.0.0.1:{port}"
    if case.proxy:
        proxy_port = free_loopback_port()
        prefix = tmp / f"nginx-{case.name.replace(' ', '-')}"
        conf = write_nginx_config(
            prefix,
            listen=f"127.0.0.1:{proxy_port}",
            upstream=f"127.0.0.1:{port}",
            max_upload_bytes=40 * 1024 * 1024,
        )
        processes.append(
            subprocess.Popen(nginx_command(prefix, conf), start_new_session=True)
        )
        base = f"http://127.0.0.1:{proxy_port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{case.name}: server did not start; see {log}")
            time.sleep(0.2)
        time.sleep(2)  # the kernels' background warm-up
        rss_before = rss_mb(children(server.pid))
        outcomes: Counter[str] = Counter()
        latencies: list[float] = []
        lock = threading.Lock()
        counter = iter(range(args.requests))

        def client() -> None:
            session = requests.Session()
            for index in counter:
                started = time.perf_counter()
                try:
                    if index % 3 == 2:
                        response = session.post(
                            base + "/api/artworks/",
                            data={"style": "pencil"},
                            files={"image": ("p.jpg", body, "image/jpeg")},
                            timeout=30,
                        )
                        ok = response.status_code < 500
                        kind = f"POST {response.status_code}"
                    else:
                        response = session.get(base + "/healthz", timeout=30)
                        ok = response.status_code == 200
                        kind = f"GET {response.status_code}"
                except requests.RequestException as exc:
                    ok, kind = False, f"error {type(exc).__name__}"
                    if args.verbose:
                        print(
                            index,
                            "POST" if index % 3 == 2 else "GET",
                            exc,
                            file=sys.stderr,
                        )
                elapsed = time.perf_counter() - started
                with lock:
                    outcomes[kind] += 1
                    outcomes["failed" if not ok else "ok"] += 1
                    latencies.append(elapsed)

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        rss_after = rss_mb(children(server.pid))
    finally:
        stop(processes, timeout=10)
    text = log.read_text()
    recycles = text.count("Autorestarting worker")
    latencies.sort()
    return {
        "case": case.name,
        "requests": args.requests,
        "failed": outcomes["failed"],
        "recycles": recycles,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
        "rps": args.requests / wall,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "kinds": dict(
            (k, v) for k, v in sorted(outcomes.items()) if k not in ("ok", "failed")
        ),
    }


CASES = [
    Case("gthread direct", "gthread", 400, False),
    Case("gthread nginx", "gthread", 400, True),
    Case("sync direct", "sync", 400, False),
    Case("sync nginx", "sync", 400, True),
    Case("gthread no-recycle", "gthread", 0, False),
    Case("sync no-recycle", "sync", 0, False),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="print each error")
    parser.add_argument(
        "--only", default="", help="run only the cases whose name contains this"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-recycle-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STUDIO_", "GUNICORN_"))
        and key not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "CACHE_URL"}
    }
    env["STUDIO_VAR_DIR"] = str(tmp / "var")
    env["STATIC_ROOT"] = str(REPO / "var" / "staticfiles")
    # Production mode (the default), plain HTTP on loopback. The anonymous
    # POSTs are read whole (CSRF looks for its form field) and answered 403.
    redis_processes = [
        start_embedded_redis(tmp / "redis.sock", persist=False),
        start_embedded_redis(tmp / "cache.sock", persist=False, cache=True),
    ]
    env["REDIS_URL"] = f"unix://{tmp / 'redis.sock'}?db=0"
    env["CACHE_URL"] = f"unix://{tmp / 'cache.sock'}?db=0"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, check=True,
    )  # fmt: skip
    body = photo()
    rows = []
    try:
        for case in CASES:
            if args.only and args.only not in case.name:
                continue
            print(f"... {case.name}", file=sys.stderr, flush=True)
            rows.append(run_case(case, args, tmp, env, body))
    finally:
        stop(redis_processes)
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{args.requests} requests (2/3 GET /healthz, 1/3 multipart POST of a "
        f"{len(body) // 1024} KB JPEG), {args.clients} keep-alive clients, "
        f"{args.workers} workers (gthread: 4 threads each), max_requests 400 "
        "(+10% jitter)\n"
    )
    header = (
        f"{'case':<20} {'failed':>6} {'recycles':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'req/s':>6} {'RSS before':>10} {'RSS after':>9}  outcomes"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['case']:<20} {row['failed']:>6} {row['recycles']:>8} "
            f"{row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} {row['rps']:>6.0f} "
            f"{row['rss_before']:>8.0f}MB {row['rss_after']:>7.0f}MB  {row['kinds']}"
        )
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
