"""Numba's cache of the style kernels: filled in a child process when it is
cold, so that the long-lived processes (the rq worker, gunicorn's master)
load the kernels and keep none of the compiler's memory; baked into the
image by the Dockerfile's command."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import processing
from processing import kernels

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter with an empty NUMBA_CACHE_DIR: fill the cache (a
# child compiles), then warm up here (loads), and report this process's own
# anonymous memory, which every job process forked from it would inherit.
FILL = """
import json, processing
from processing import kernels
cold = kernels.cache_is_cold()
filled = processing.fill_kernel_cache()
processing.warm_up()
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
anon_mb = int(status["RssAnon"].split()[0]) / 1024
print(json.dumps({"cold": cold, "filled": filled, "anon_mb": anon_mb,
                  "cold_after": kernels.cache_is_cold()}))
"""

AGAIN = """
import json, processing
from processing import kernels
print(json.dumps({"cold": kernels.cache_is_cold(),
                  "filled": processing.fill_kernel_cache()}))
"""


def run_python(code: str, cache_dir: Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_cold_cache_is_filled_in_a_child_and_this_process_only_loads(tmp_path):
    """One cold compile (~1 min): the process that asked holds ~110 MB of
    anonymous memory after its warm-up, not the ~350 MB of a compile in
    place; the next process finds the cache warm and starts no child."""
    cache = tmp_path / "numba"
    first = run_python(FILL, cache)
    assert first["cold"] is True and first["filled"] is True
    assert first["cold_after"] is False
    assert first["anon_mb"] < 200, first
    again = run_python(AGAIN, cache)
    assert again == {"cold": False, "filled": False}


def test_a_warm_cache_starts_no_child(monkeypatch):
    processing.warm_up()  # this process's cache (the repo's __pycache__)
    assert kernels.cache_is_cold() is False

    def no_child(*args, **kwargs):
        raise AssertionError("a child process was started")

    monkeypatch.setattr(subprocess, "run", no_child)
    assert processing.fill_kernel_cache() is False


def test_without_a_cache_there_is_nothing_to_fill(monkeypatch):
    monkeypatch.setitem(kernels._JIT, "cache", False)
    assert kernels.cache_is_cold() is False
    assert processing.fill_kernel_cache() is False


def test_a_failed_child_changes_nothing(monkeypatch):
    """The warm-up that follows compiles in place, as before."""
    monkeypatch.setattr(kernels, "cache_is_cold", lambda: True)

    def failing(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], 1)

    monkeypatch.setattr(subprocess, "run", failing)
    assert processing.fill_kernel_cache() is True


def test_the_worker_fills_the_cache_before_its_warm_up(monkeypatch):
    from gallery.pipeline import workers

    calls = []
    monkeypatch.setattr(processing, "fill_kernel_cache", lambda: calls.append("fill"))
    monkeypatch.setattr(processing, "warm_up", lambda: calls.append("warm"))
    monkeypatch.setattr(
        workers.Worker, "work", lambda self, *a, **k: calls.append("work") or True
    )
    workers.StudioWorker.work(object.__new__(workers.StudioWorker))
    assert calls == ["fill", "warm", "work"]


def test_gunicorn_fills_the_cache_before_it_starts_its_workers(monkeypatch):
    calls = []
    monkeypatch.setattr(processing, "fill_kernel_cache", lambda: calls.append("fill"))
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    conf["on_starting"](None)
    assert calls == ["fill"]
