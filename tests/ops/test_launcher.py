"""`make run`'s launcher: the whole stack stops on Ctrl-C and SIGTERM, every
time, within 10 s, and leaves its port free (issue 11, item 11); two Redis
servers with their own memory policies (item 9).

The stack tests start the real thing (``python -m artstudio_site.launcher
run``: embedded queue and cache Redis, an rq worker, the sweeper, gunicorn)
in a session of its own, as a shell starts a foreground job, and signal it
the way a terminal (Ctrl-C: SIGINT to the whole process group) or compose
(SIGTERM to the main process) does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests

from artstudio_site.launcher import group_members, start_embedded_redis, stop
from tests.ops.stack import (
    MARKER,
    REPO,
    clean_env,
    free_port,
    group_processes,
    marked_processes,
    port_is_free,
    process_group,
    survivors,
    wait_http,
)

STOP_WITHIN = 10.0
ROUNDS = 20


@pytest.fixture(scope="module")
def stack_var(tmp_path_factory) -> Path:
    """A var dir with a migrated SQLite database, shared by the rounds."""
    var = tmp_path_factory.mktemp("stack-var")
    env = clean_env(var, STATIC_ROOT=str(REPO / "var" / "staticfiles"))
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return var


def start_stack(var: Path, **changes: str) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    marker = uuid.uuid4().hex
    env = clean_env(
        var,
        PORT=str(port),
        STATIC_ROOT=str(REPO / "var" / "staticfiles"),
        WEB_CONCURRENCY="2",
        # Recycles while the test's clients are busy, as in a long run.
        GUNICORN_MAX_REQUESTS="50",
        GUNICORN_MAX_REQUESTS_JITTER="10",
        **{MARKER: marker},
        **changes,
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "artstudio_site.launcher", "run"],
        cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/healthz", 90, launcher)
    return launcher, port, marker


def _busy_clients(port: int, stop_event: threading.Event) -> list[threading.Thread]:
    """Keep-alive clients polling, as open browser tabs do."""

    def poll() -> None:
        session = requests.Session()
        while not stop_event.is_set():
            try:
                session.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except requests.RequestException:
                time.sleep(0.05)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    return threads


def stop_and_check(
    launcher: subprocess.Popen, port: int, marker: str, how: str
) -> float:
    """Signal the stack as a terminal or compose would, while clients are
    busy; return the seconds until no process of it was left and its port
    was free."""
    # Every process of the stack: gunicorn's workers, rq's scheduler and
    # nginx's workers included, and any started after this snapshot.
    deadline = time.monotonic() + 20
    while len(marked_processes(marker)) < 7:
        assert time.monotonic() < deadline, marked_processes(marker)
        time.sleep(0.1)
    clients_stop = threading.Event()
    clients = _busy_clients(port, clients_stop)
    time.sleep(0.5)
    processes = marked_processes(marker)
    groups = {process_group(pid) for pid in processes} - {None}
    started = time.monotonic()
    try:
        if how == "SIGINT":
            os.killpg(launcher.pid, signal.SIGINT)  # the terminal's Ctrl-C
        else:
            launcher.send_signal(signal.SIGTERM)  # docker stop

        def left() -> list[str]:
            everything = processes | marked_processes(marker) | group_processes(groups)
            return survivors(everything)

        while time.monotonic() - started < STOP_WITHIN:
            if not left() and port_is_free(port):
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        remaining = left()
    finally:
        clients_stop.set()
        for thread in clients:
            thread.join(5)
    for line in remaining:  # leave nothing behind for the next round
        try:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        except OSError:
            pass
    assert not remaining, f"still running {elapsed:.1f} s after {how}: {remaining}"
    assert port_is_free(port), f"port {port} still bound after {how}"
    launcher.wait(5)
    return elapsed


@pytest.mark.soak
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_the_stack_stops_every_time(stack_var, how):
    """Item 11: after Ctrl-C every process is gone within 10 s and the port
    is free, 20 times in a row; the same for SIGTERM."""
    timings = []
    for _ in range(ROUNDS if how == "SIGINT" else 5):
        launcher, port, marker = start_stack(stack_var)
        timings.append(stop_and_check(launcher, port, marker, how))
    print(f"{how}: stopped in {min(timings):.2f}-{max(timings):.2f} s")


@pytest.mark.slow
def test_the_stack_with_nginx_stops_and_children_have_their_own_groups(stack_var):
    """The terminal's SIGINT reaches the launcher alone: each child runs in a
    session of its own and is stopped by the launcher with one SIGTERM, so a
    gunicorn worker never gets both the terminal's signal and its arbiter's
    (the re-entered shutdown that deadlocked gthread workers)."""
    launcher, port, marker = start_stack(stack_var, STUDIO_PROXY="nginx")
    response = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert response.headers.get("Server") == "nginx"
    others = [
        pid for pid in group_members(os.getpgid(launcher.pid)) if pid != launcher.pid
    ]
    assert others == [], "stack processes share the terminal's process group"
    stop_and_check(launcher, port, marker, "SIGINT")


def _orphan_holding_a_port(port: int) -> list[str]:
    """A parent that exits on SIGTERM and leaves a child that ignores it and
    keeps a listening socket: the orphaned, deadlocked gunicorn worker."""
    child = (
        "import signal, socket, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port})); s.listen()\n"
        "time.sleep(600)\n"
    )
    parent = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "time.sleep(600)\n"
    )
    return [sys.executable, "-c", parent]


def test_stop_kills_what_outlives_its_parent():
    port = free_port()
    process = subprocess.Popen(_orphan_holding_a_port(port), start_new_session=True)
    deadline = time.monotonic() + 10
    while port_is_free(port):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    stop([process], timeout=2)
    assert time.monotonic() - started < 5
    assert group_members(process.pid) == []
    assert port_is_free(port)


def _redis_config(socket_path: Path, name: str) -> str:
    client = redis.Redis(unix_socket_path=str(socket_path), decode_responses=True)
    return client.config_get(name)[name]


def test_queue_redis_never_evicts_and_cache_redis_does():
    """Item 9: a job must never be evicted; previews and counters may be."""
    short = Path("/tmp") / f"studio-r-{os.getpid()}"  # socket paths are short
    short.mkdir(exist_ok=True)
    servers = []
    try:
        servers.append(start_embedded_redis(short / "q.sock", persist=True))
        servers.append(
            start_embedded_redis(short / "c.sock", persist=False, cache=True)
        )
        assert _redis_config(short / "q.sock", "maxmemory-policy") == "noeviction"
        assert _redis_config(short / "c.sock", "maxmemory-policy") == "allkeys-lru"
        assert int(_redis_config(short / "c.sock", "maxmemory")) == 64 * 1024 * 1024
        # The queue persists (jobs survive a restart), the cache does not.
        assert _redis_config(short / "c.sock", "save") == ""
        assert _redis_config(short / "c.sock", "appendonly") == "no"
        assert _redis_config(short / "q.sock", "save") == "60 1"
        assert _redis_config(short / "q.sock", "appendonly") == "yes"
    finally:
        stop(servers)
        shutil.rmtree(short, ignore_errors=True)


def test_make_run_starts_a_cache_redis_of_its_own(stack_var):
    launcher, port, marker = start_stack(stack_var)
    try:
        sockets = sorted(p.name for p in (stack_var / "redis").glob("*.sock"))
        assert sockets == ["cache.sock", "redis.sock"]
        assert (
            _redis_config(stack_var / "redis" / "cache.sock", "maxmemory-policy")
            == "allkeys-lru"
        )
        with socket.create_connection(("127.0.0.1", port)):
            pass
    finally:
        stop_and_check(launcher, port, marker, "SIGTERM")


WORKER_IMPORTS = (
    "import sys, django; django.setup()\n"
    "from django.conf import settings\n"
    "import gallery.pipeline.jobs, gallery.pipeline.workers, gallery.pipeline.recovery\n"
    "print('ninja' in settings.INSTALLED_APPS,"
    " sorted({m.split('.')[0] for m in sys.modules} & {'ninja', 'pydantic', 'jinja2'}))\n"
)


@pytest.mark.parametrize(
    ("worker_only", "expected"),
    [("1", "False []"), ("0", "True ['jinja2', 'ninja', 'pydantic']")],
)
def test_a_worker_only_process_leaves_the_api_framework_out(
    tmp_path, worker_only, expected
):
    """The workers the launcher (and compose) start serve no request: with
    STUDIO_WORKER_ONLY=1 the job path loads without django-ninja and what it
    brings; every other process keeps it."""
    from artstudio_site.launcher import worker_command, worker_env

    assert "--skip-checks" in worker_command(sys.executable, {})
    assert worker_env({})["STUDIO_WORKER_ONLY"] == "1"
    env = clean_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="artstudio_site.settings",
        STUDIO_WORKER_ONLY=worker_only,
    )
    result = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
