"""Load benchmark of the whole job pipeline (not a test): `make bench-load`.

Starts the stack on loopback exactly as `make run` does (embedded Redis,
gunicorn, the sweeper loop and STUDIO_WORKERS=2 rq workers, each with its kept
job process) in a
throw-away var folder, signs up N users, and lets N concurrent clients upload
200 distinct 2 MP photos with random styles through ``POST /api/artworks/``,
each polling its artworks until done as the upload page does (every
1 s + 50 ms per artwork in flight; while queued, a third of the answer's
ETA, at most 5 s). Clients honour ``Retry-After`` on
429/503. Prints accepted, done, failed, lost (must be 0), throughput, p50/p95
upload response time and upload-to-done time, the workers' RSS (worker and
its kept job process) at start and end (must not grow more than 20 %), the
CPU seconds per photo of each part of the stack (the clients sign up before
this window), the Redis commands per photo (``INFO commandstats``, the whole
stack) and, on PostgreSQL, the database transactions per photo
(``pg_stat_database``).

Throughput is shown two ways: by the pipeline's own finish times (first
upload to the last artwork's ``finished_at``, read from the stack's
database) and as the clients saw it (to the poll that saw the last one
done, which adds up to one poll interval).

Before the stack starts and after it stops, the same photos and styles go
through the engine alone (``engine_only.py``: decode, render, encode,
thumbnail) in as many warm processes as there are workers, and the table
ends with the pipeline's efficiency, both ways: its photos per minute over
the mean of the engine's two runs (target 0.7).

    .venv/bin/python benchmarks/bench_load.py [--photos 200] [--clients 10]
        [--database-url postgres://postgres@127.0.0.1:5432/wt_perf]
"""

from __future__ import annotations

import argparse
import collections
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
from engine_only import STYLE_SLUGS, engine_throughput
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from artstudio_site.launcher import WORKER_GLIBC_TUNABLES  # noqa: E402

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


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (a forked child's) counted once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_rss(launcher: int) -> dict[int, float]:
    """PSS of each worker plus its job process (the kept one, or a horse)."""
    return {
        pid: pss_mb(pid) + sum(pss_mb(child) for child in children(pid))
        for pid in worker_pids(launcher)
    }


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children and its living ones."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        kids = children(pid)
    except OSError:
        return 0.0
    own = sum(int(v) for v in fields[11:15]) / _TICKS  # utime stime cutime cstime
    return own + sum(cpu_seconds(child) for child in kids)


def cpu_by_kind(launcher: int) -> dict[str, float]:
    kinds = {"gunicorn": "web", "rqworker": "workers", "recover_jobs": "sweeper"}
    totals: dict[str, float] = collections.Counter()
    for pid in children(launcher):
        line = cmdline(pid)
        kind = next((k for key, k in kinds.items() if key in line), "redis")
        totals[kind] += cpu_seconds(pid)
    return totals


def redis_calls(socket_path: Path) -> int:
    import redis

    stats = redis.Redis(unix_socket_path=str(socket_path)).info("commandstats")
    return sum(
        value["calls"]
        for name, value in stats.items()
        if name.startswith("cmdstat_") and name not in ("cmdstat_info",)
    )


def pg_transactions(url: str) -> int | None:
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    return int(row[0])


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


def launch_stack(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Migrate, collect static files, then start the stack as `make run` does
    (the launcher's `run`) on ``env["PORT"]``; return it once it answers."""
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([PY, "manage.py", *step, "-v0"], cwd=REPO, env=env, check=True)
    # BENCH_STACK_LOG=path keeps the stack's own output (logs of gunicorn,
    # the workers, nginx) for a run that went wrong.
    log_path = os.environ.get("BENCH_STACK_LOG")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    stack = subprocess.Popen(
        [PY, "-m", "artstudio_site.launcher", "run"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_http(base + "/healthz", 60)
    except BaseException:
        stack.kill()
        raise
    return stack, base


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
    parser.add_argument(
        "--poll",
        choices=("page", "eta"),
        default="page",
        help="clients poll as the upload page does, or by the answer's ETA",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="run on this database (default: a throw-away SQLite file)",
    )
    args = parser.parse_args()

    print(f"generating {args.photos} distinct {args.megapixels} MP photos…", flush=True)
    photos = distinct_photos(args.photos, args.megapixels)
    rng = random.Random(42)
    styles = STYLE_SLUGS
    work = [(photo, rng.choice(styles)) for photo in photos]
    print(
        f"engine only: {len(work)} photos, {args.workers} warm processes…", flush=True
    )
    engine_before = engine_throughput(work, args.workers)
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
        # Every client signs up from loopback within a second.
        "STUDIO_SIGNUP_RATE": env_default(
            "STUDIO_SIGNUP_RATE", str(max(5, args.clients))
        ),
    }
    env.pop("DEBUG", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    stack, base = launch_stack(env)
    try:
        deadline = time.monotonic() + 30
        while len(worker_pids(stack.pid)) < args.workers:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start")
            time.sleep(0.3)
        time.sleep(2)  # let the workers finish importing
        sessions = sign_up(base, args.clients)
        rss_start = worker_rss(stack.pid)
        cpu_start = cpu_by_kind(stack.pid)
        socket_path = var / "redis" / "redis.sock"
        counters = (redis_calls(socket_path), pg_transactions(args.database_url))
        database = args.database_url or str(var / "db.sqlite3")
        rows, ok, rates = run_load(
            args, base, stack.pid, rss_start, work, sessions, database
        )
        done = int(dict(rows)["done"])
        cpu_end = cpu_by_kind(stack.pid)
        spent = {k: cpu_end[k] - cpu_start.get(k, 0.0) for k in cpu_end}
        rows.append(
            (
                "CPU s per photo: " + " / ".join(spent),
                " / ".join(f"{v / max(1, done):.3f}" for v in spent.values()),
            )
        )
        redis_per = (redis_calls(socket_path) - counters[0]) / max(1, done)
        rows.append(("Redis commands per photo (whole stack)", f"{redis_per:.0f}"))
        if counters[1] is not None:
            pg_per = (pg_transactions(args.database_url) - counters[1]) / max(1, done)
            rows.append(("database transactions per photo", f"{pg_per:.0f}"))
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            stack.kill()
    print(
        f"\nengine only: the same {len(work)} photos and styles, {args.workers} warm processes…",
        flush=True,
    )
    engine_after = engine_throughput(work, args.workers)
    # Before and after the pipeline, averaged: the machine's other load
    # changes over a minute, and must weigh on both sides alike.
    engine_per_min = (engine_before + engine_after) / 2
    rows.append(
        (
            "engine-only throughput before / after / mean (photos/min)",
            f"{engine_before:.1f} / {engine_after:.1f} / {engine_per_min:.1f}",
        )
    )
    rows.append(
        (
            "efficiency (pipeline / engine): by finish times / as clients saw it",
            " / ".join(f"{rate / engine_per_min:.2f}" for rate in rates),
        )
    )
    rows.append(("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}"))
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    return 0 if ok else 1


def env_default(name: str, value: str) -> str:
    return os.environ.get(name, value)


def sign_up(base: str, count: int) -> list[Session]:
    """``count`` signed-in clients (before the measured window: a sign-up's
    password hash is ~30 ms of web CPU that no photo costs)."""
    sessions = []
    for _ in range(count):
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
    return sessions


def finish_time(database: str, artwork_id: int | None = None) -> float | None:
    """Epoch seconds of an artwork's ``finished_at`` (by default the last
    ``done`` one's), read from the stack's database (a path to SQLite, or a
    PostgreSQL URL): when the pipeline finished, before any poll saw it."""
    query = "SELECT MAX(finished_at) FROM gallery_artwork WHERE status = 'done'"
    args: tuple = ()
    if artwork_id is not None:
        query += " AND id = %s"
        args = (artwork_id,)
    if database.startswith(("postgres://", "postgresql://")):
        import psycopg

        with psycopg.connect(database) as conn:
            value = conn.execute(query, args).fetchone()[0]
        return value.timestamp() if value else None
    import datetime
    import sqlite3

    with sqlite3.connect(database) as conn:
        value = conn.execute(query.replace("%s", "?"), args).fetchone()[0]
    if not value:
        return None
    return (
        datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC).timestamp()
    )


def run_load(args, base, launcher, rss_start, work, sessions, database: str):
    def poll_interval(answer: dict, in_flight: int) -> float:
        if args.poll == "eta" and answer.get("eta_seconds"):
            # Half the estimated wait, between 1 and 10 s.
            return min(10.0, max(1.0, answer["eta_seconds"] / 2))
        # As the upload page does (static/js/editor.js, studioPollDelay in
        # common.js): every 1 s + 50 ms per artwork in flight while it
        # renders; while it is queued, a third of its ETA, at most 5 s.
        base = 1 + 0.05 * in_flight
        if answer.get("status") == "queued" and answer.get("eta_seconds"):
            return min(5.0, max(base, answer["eta_seconds"] / 3))
        return base

    styles = [
        s["slug"]
        for s in json.loads(sessions[0].request("GET", "/api/styles/")[1])["styles"]
    ]
    assert styles == sorted({style for _photo, style in work}, key=styles.index)
    lock = threading.Lock()
    upload_ms: list[float] = []
    to_done: list[float] = []
    errors: list[str] = []
    results = {
        "accepted": 0,
        "done": 0,
        "failed": 0,
        "refused": 0,
        "errors": 0,
        "polls": 0,
    }
    cpu_clients = time.process_time()
    started = time.monotonic()
    started_epoch = time.time()
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
        next_poll = dict.fromkeys(pending, 0.0)
        while pending and time.monotonic() < deadline:
            for url, t0 in list(pending.items()):
                if next_poll[url] > time.monotonic():
                    continue
                with lock:
                    results["polls"] += 1
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
                    continue
                next_poll[url] = time.monotonic() + poll_interval(answer, len(pending))
            if pending:
                wake = min(next_poll[url] for url in pending)
                time.sleep(max(0.05, wake - time.monotonic()))

    warm: dict[int, float] = {}

    def sample_warm() -> None:
        # Workers (and their job processes) once a quarter of the photos are
        # done: the steady state that must stay flat until the end.
        while not warm and time.monotonic() < deadline:
            if results["done"] >= args.photos // 4:
                warm.update(worker_rss(launcher))
            time.sleep(0.5)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=sample_warm, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    wall = time.monotonic() - started
    cpu_clients = time.process_time() - cpu_clients
    rss_end = worker_rss(launcher)
    lost = results["accepted"] - results["done"] - results["failed"]
    warm = warm or rss_start
    start_total, end_total = sum(warm.values()), sum(rss_end.values())
    growth = (end_total - start_total) / start_total * 100 if start_total else 0
    photos_per_min = results["done"] / wall * 60
    # The pipeline's own rate: until the last artwork was finished (its
    # finished_at), not until a client's next poll happened to see it.
    finish = finish_time(database)
    pipeline_wall = finish - started_epoch if finish else wall
    pipeline_per_min = results["done"] / pipeline_wall * 60
    cores = os.cpu_count() or 1
    rows = [
        ("photos uploaded", f"{args.photos} x {args.megapixels} MP, {args.clients} clients, {len(rss_start)} workers, polling: {args.poll}"),
        ("accepted", results["accepted"]),
        ("done", results["done"]),
        ("failed", results["failed"]),
        ("lost", lost),
        ("refused (429/503, retried)", results["refused"]),
        ("upload errors", results["errors"]),
        ("status polls per photo", f"{results['polls'] / max(1, results['accepted']):.1f}"),
        ("throughput, by finish times / as clients saw it (photos/min)", f"{pipeline_per_min:.1f} / {photos_per_min:.1f}"),
        ("photos/min per worker core (by finish times)", f"{pipeline_per_min / min(cores, len(rss_start)):.1f}"),
        ("upload response p50 / p95 (ms)", f"{pct(upload_ms, 50):.0f} / {pct(upload_ms, 95):.0f}"),
        ("upload-to-done p50 / p95 (s)", f"{pct(to_done, 50):.1f} / {pct(to_done, 95):.1f}"),
        ("worker + job process PSS idle (MB)", " + ".join(f"{v:.0f}" for v in rss_start.values())),
        ("worker + job process PSS at 1/4 done (MB)", " + ".join(f"{v:.0f}" for v in warm.values())),
        ("worker + job process PSS end (MB)", " + ".join(f"{v:.0f}" for v in rss_end.values())),
        ("worker PSS growth (1/4 done -> end)", f"{growth:+.1f} %"),
        ("wall time: to the last finish / to the last poll (s)", f"{pipeline_wall:.1f} / {wall:.1f}"),
        ("database", "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite (WAL)"),
        ("CPU s per photo of the load clients (this process, same cores)", f"{cpu_clients / max(1, results['done']):.3f}"),
        ("GLIBC_TUNABLES (workers)", os.environ.get("GLIBC_TUNABLES", f"{WORKER_GLIBC_TUNABLES} (launcher default)") or "(off)"),
    ]  # fmt: skip
    if to_done:
        print(f"\nmean upload-to-done {statistics.mean(to_done):.1f} s")
    for error in sorted(set(errors)):
        print(f"failed x{errors.count(error)}: {error}")
    ok = lost == 0 and growth <= 20
    return rows, ok, (pipeline_per_min, photos_per_min)


if __name__ == "__main__":
    sys.exit(main())
