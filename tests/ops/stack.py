"""Helpers for tests that start the real stack or its parts as processes:
free ports, waiting for an HTTP answer, the process tree under a pid."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Can a new server bind the port (as gunicorn would, SO_REUSEADDR)?"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_http(url: str, timeout: float, process=None) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{process.args} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def descendants(pid: int) -> dict[int, int]:
    """Every process below ``pid`` (any session), as {pid: start time}."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            start = process_start_time(child)
            if start is not None and child not in found:
                found[child] = start
                todo.append(child)
    return found


def survivors(processes: dict[int, int]) -> list[str]:
    """Those of ``processes`` still running (same pid and start time, not a
    zombie), with their command lines."""
    alive = []
    for pid, start in processes.items():
        fields = _stat(pid)
        if fields and int(fields[19]) == start and fields[0] not in ("Z", "X"):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            alive.append(f"{pid}: {cmd.decode(errors='replace')}")
    return alive


def clean_env(tmp: Path, **changes: str) -> dict[str, str]:
    """The environment for a stack in ``tmp``: this process's, less the
    studio's own settings, with a private var dir."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STUDIO_", "PYTEST_", "GUNICORN_"))
        and key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "PORT",
            "HOST",
            "WEB_CONCURRENCY",
        }
        and key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "MEDIA_ROOT"}
    }
    env["STUDIO_VAR_DIR"] = str(tmp)
    env["DJANGO_SETTINGS_MODULE"] = "artstudio_site.settings"
    env.update(changes)
    return env


MARKER = "STUDIO_TEST_STACK"


def marked_processes(marker: str) -> dict[int, int]:
    """Processes whose environment carries ``STUDIO_TEST_STACK=marker``: the
    whole stack, a worker started after any snapshot of the tree included
    (nginx's workers, which drop their environment, are found by group)."""
    needle = f"{MARKER}={marker}".encode()
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            start = process_start_time(int(entry.name))
            if start is not None:
                found[int(entry.name)] = start
    return found


def group_processes(pgids: set[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[2]) in pgids:
                found[int(entry.name)] = int(fields[19])
    return found


def process_group(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[2]) if fields else None
