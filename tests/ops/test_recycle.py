"""Item 3: no request is dropped when gunicorn recycles a worker.

Runs benchmarks/bench_recycle.py's measurement, smaller: 1200 mixed
requests (GET, and multipart POSTs of a real JPEG) from keep-alive clients
across at least 3 recycles, straight to gunicorn and through nginx, with the
worker class gunicorn.conf.py configures.
"""

from __future__ import annotations

import importlib.util
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from artstudio_site.launcher import start_embedded_redis, stop
from tests.ops.stack import REPO, clean_env

CONF = runpy.run_path(str(REPO / "gunicorn.conf.py"))


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_recycle", REPO / "benchmarks" / "bench_recycle.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_workers_are_sync_and_still_recycled():
    """The gthread worker dropped requests at each recycle (gunicorn issue
    3038); gunicorn also turns "sync" into gthread when threads > 1."""
    assert CONF["worker_class"] == "sync"
    assert CONF["threads"] == 1
    assert CONF["max_requests"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("proxy", [False, True], ids=["direct", "nginx"])
def test_no_request_is_dropped_across_recycles(proxy):
    bench = _bench()
    tmp = Path(tempfile.mkdtemp(prefix="studio-recycle-"))
    env = clean_env(tmp / "var", STATIC_ROOT=str(REPO / "var" / "staticfiles"))
    servers = [
        start_embedded_redis(tmp / "redis.sock", persist=False),
        start_embedded_redis(tmp / "cache.sock", persist=False, cache=True),
    ]
    env["REDIS_URL"] = f"unix://{tmp / 'redis.sock'}?db=0"
    env["CACHE_URL"] = f"unix://{tmp / 'cache.sock'}?db=0"
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=REPO, env=env, check=True, timeout=300,
        )  # fmt: skip
        case = bench.Case("recycle", CONF["worker_class"], 100, proxy)
        args = SimpleNamespace(requests=1200, clients=6, workers=2, verbose=False)
        row = bench.run_case(case, args, tmp, env, bench.photo())
    finally:
        stop(servers)
        shutil.rmtree(tmp, ignore_errors=True)
    assert row["recycles"] >= 3, row
    assert row["failed"] == 0, row
