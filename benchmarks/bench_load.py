"""Load benchmark of the whole job pipeline (not a test): `make bench-load`.

Starts the stack on loopback exactly as `make run` does (embedded Redis,
gunicorn, the sweeper loop and STUDIO_WORKERS=2 fork-per-job rq workers) in a
throw-away var folder, signs up N users, and lets N concurrent clients upload
200 distinct 2 MP photos with random styles through ``POST /api/artworks/``,
each polling its artworks until done. Clients honour ``Retry-After`` on
429/503. Prints accepted, done, failed, lost (must be 0), throughput, p50/p95
upload response time and upload-to-done time, and the worker processes' RSS
at start and end (must not grow more than 20 %).

    .venv/bin/python benchmarks/bench_load.py [--photos 200] [--clients 10]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from bench_e2e import Session, photo_jpeg
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def distinct_photos(count: int, megapixels: float) -> list[bytes]:
    """``count`` different JPEGs (different bytes and pixels: no dedup)."""
    base = np.asarray(Image.open(io.BytesIO(photo_jpeg(megapixels))).convert("RGB"))
    photos = []
    for i in range(count):
        image = base.copy()
        rng = np.random.default_rng(i)
        y, x = (
            rng.integers(0, image.shape[0] - 40),
            rng.integers(0, image.shape[1] - 40),
        )
        image[y : y + 40, x : x + 40] = rng.integers(0, 255, 3, dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=90)
        photos.append(buffer.getvalue())
    return photos


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(launcher: int) -> list[int]:
    return [p for p in children(launcher) if "rqworker" in cmdline(p)]


def wait_http(url: str, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200, help="photos in all")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients")
    parser.add_argument("--megapixels", type=float, default=2.0, help="photo size")
    parser.add_argument("--workers", type=int, default=2, help="rq workers")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds to wait for all"
    )
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="studio-bench-load-"))
    port = free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"REDIS_URL", "CACHE_URL", "DATABASE_URL"}
        },
        "STUDIO_VAR_DIR": str(var),
        "PORT": str(port),
        "STUDIO_WORKERS": str(args.workers),
        "GUNICORN_LOG_LEVEL": "warning",
        # Every client uploads ~20 photos at once; the per-user cap would
        # (correctly) refuse some. Clients honour Retry-After either way.
        "STUDIO_MAX_UNFINISHED_PER_USER": env_default(
            "STUDIO_MAX_UNFINISHED_PER_USER", "50"
        ),
    }
    env.pop("DEBUG", None)
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True
    )
    subprocess.run(
        [PY, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        check=True,
    )
    stack = subprocess.Popen(
        [PY, "-m", "artstudio_site.launcher", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", 60)
        deadline = time.monotonic() + 30
        while len(worker_pids(stack.pid)) < args.workers:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start")
            time.sleep(0.3)
        time.sleep(2)  # let the workers finish importing
        workers = worker_pids(stack.pid)
        rss_start = {pid: rss_mb(pid) for pid in workers}
        return run_load(args, base, stack.pid, rss_start)
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            stack.kill()


def env_default(name: str, value: str) -> str:
    return os.environ.get(name, value)


def run_load(args, base: str, launcher: int, rss_start: dict[int, float]) -> int:
    print(f"generating {args.photos} distinct {args.megapixels} MP photos…", flush=True)
    photos = distinct_photos(args.photos, args.megapixels)
    sessions = []
    for _ in range(args.clients):
        session = Session(base)
        session.request("GET", "/accounts/signup/")
        password = "bench-" + uuid.uuid4().hex
        status = session.form(
            "/accounts/signup/",
            {
                "username": f"load{uuid.uuid4().hex[:8]}",
                "password1": password,
                "password2": password,
            },
        )
        if status not in (200, 302):
            raise SystemExit(f"sign-up failed with HTTP {status}")
        sessions.append(session)
    styles = [
        s["slug"]
        for s in json.loads(sessions[0].request("GET", "/api/styles/")[1])["styles"]
    ]
    rng = random.Random(42)
    work = [(photo, rng.choice(styles)) for photo in photos]
    lock = threading.Lock()
    upload_ms: list[float] = []
    to_done: list[float] = []
    errors: list[str] = []
    results = {"accepted": 0, "done": 0, "failed": 0, "refused": 0, "errors": 0}
    started = time.monotonic()
    deadline = started + args.timeout

    def client(index: int) -> None:
        session = sessions[index]
        mine = work[index :: args.clients]
        pending: dict[str, float] = {}
        for photo, style in mine:
            while True:
                t0 = time.monotonic()
                try:
                    status, body = session.multipart(
                        "/api/artworks/", [("style", style)], {"image": photo}
                    )
                except OSError:
                    status, body = 0, b""
                elapsed = (time.monotonic() - t0) * 1000
                if status in (429, 503):
                    with lock:
                        results["refused"] += 1
                    time.sleep(5)
                    continue
                break
            with lock:
                upload_ms.append(elapsed)
            if status != 202:
                with lock:
                    results["errors"] += 1
                continue
            for artwork in json.loads(body)["artworks"]:
                pending[artwork["url"]] = t0
                with lock:
                    results["accepted"] += 1
        while pending and time.monotonic() < deadline:
            for url, t0 in list(pending.items()):
                try:
                    status, body = session.request("GET", url)
                except OSError:  # a gunicorn worker recycled (max_requests)
                    continue
                if status != 200:
                    continue
                answer = json.loads(body)
                state = answer["status"]
                if state in ("done", "failed"):
                    del pending[url]
                    with lock:
                        results[state] += 1
                        if state == "failed":
                            errors.append(answer["error"])
                        if state == "done":
                            to_done.append(time.monotonic() - t0)
            time.sleep(1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    rss_end = {pid: rss_mb(pid) for pid in rss_start if Path(f"/proc/{pid}").exists()}
    lost = results["accepted"] - results["done"] - results["failed"]
    start_total, end_total = sum(rss_start.values()), sum(rss_end.values())
    growth = (end_total - start_total) / start_total * 100 if start_total else 0
    rows = [
        ("photos uploaded", f"{args.photos} x {args.megapixels} MP, {args.clients} clients, {len(rss_start)} workers"),
        ("accepted", results["accepted"]),
        ("done", results["done"]),
        ("failed", results["failed"]),
        ("lost", lost),
        ("refused (429/503, retried)", results["refused"]),
        ("upload errors", results["errors"]),
        ("throughput (photos/min)", f"{results['done'] / wall * 60:.1f}"),
        ("upload response p50 / p95 (ms)", f"{pct(upload_ms, 50):.0f} / {pct(upload_ms, 95):.0f}"),
        ("upload-to-done p50 / p95 (s)", f"{pct(to_done, 50):.1f} / {pct(to_done, 95):.1f}"),
        ("worker RSS start (MB)", " + ".join(f"{v:.0f}" for v in rss_start.values())),
        ("worker RSS end (MB)", " + ".join(f"{v:.0f}" for v in rss_end.values())),
        ("worker RSS growth", f"{growth:+.1f} %"),
        ("wall time (s)", f"{wall:.0f}"),
        ("GLIBC_TUNABLES (workers)", os.environ.get("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1 (launcher default)") or "(off)"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    if to_done:
        print(f"\nmean upload-to-done {statistics.mean(to_done):.1f} s")
    for error in sorted(set(errors)):
        print(f"failed x{errors.count(error)}: {error}")
    ok = lost == 0 and growth <= 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
