"""gunicorn.conf.py: each web worker loads the style kernels as it starts, so
the first live preview it serves does not pay for Numba's start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter, as a newly forked gunicorn worker is: the hook must
# return at once (the worker serves while the kernels load) and leave every
# style kernel compiled or loaded from the cache.
PROBE = """
import runpy, sys, threading, time
conf = runpy.run_path("gunicorn.conf.py")
start = time.perf_counter()
conf["post_worker_init"](None)
returned = time.perf_counter() - start
loaders = [t for t in threading.enumerate() if t.name == "kernel-warm-up"]
assert len(loaders) == 1, loaders
assert returned < 1.0, returned
loaders[0].join(300)
from processing import kernels
cold = [name for name in ("oil_rows", "nc_rows", "nc_cols", "stylize_edges",
        "cartoon_finish", "impressionist_strokes", "paint_strokes",
        "pointillism_dots", "ink_finish")
        if not getattr(kernels, name).signatures]
print("returned in %.3f s; not loaded: %s" % (returned, cold))
sys.exit(1 if cold else 0)
"""


def test_worker_start_loads_the_kernels_in_the_background():
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT, capture_output=True, text=True, timeout=360,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not loaded: []" in done.stdout, done.stdout
