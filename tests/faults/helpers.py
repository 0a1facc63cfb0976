"""Job functions for the fault tests: they reach a known point mid-job and
then sleep, so a test can kill or time out a job that is really running.

The worker subprocesses import them from here (the repository root is their
working directory).
"""

from __future__ import annotations

import os
import time

from rq import get_current_job

from gallery.pipeline import jobs


def _processing_now(artwork_id: int) -> None:
    job = get_current_job()
    jobs.claim(artwork_id, job.id)  # the row is `processing`, as mid-render
    job.meta.update(pid=os.getpid(), stage="rendering")
    job.save_meta()


def render_after(artwork_id: int, seconds: float) -> str:
    """Mark the artwork processing, sleep, then render it for real."""
    _processing_now(artwork_id)
    time.sleep(seconds)
    return jobs.render_artwork(artwork_id)


def hang(artwork_id: int) -> str:
    """Mark the artwork processing and never finish (until the timeout)."""
    _processing_now(artwork_id)
    while True:
        time.sleep(0.2)


def hog(artwork_id: int, megabytes: int) -> str:
    """Mark the artwork processing, then hold ``megabytes`` of touched memory."""
    _processing_now(artwork_id)
    ballast = bytearray(megabytes * 1024 * 1024)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    time.sleep(30)
    return "survived"


def fail_once(artwork_id: int) -> str:
    """Record the job process's pid, then fail with a bug."""
    _processing_now(artwork_id)
    raise RuntimeError("a bug")
