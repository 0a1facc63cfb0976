"""The worker's kept job process keeps every guarantee of a forked work horse:
jobs run one after another in one process, and it is replaced after N jobs,
after a failure, when killed, and when it grows past the memory limit."""

from __future__ import annotations

import os
import signal

import pytest

from gallery.models import Artwork
from gallery.pipeline import jobs
from gallery.pipeline.queue import enqueue_render
from tests.faults.conftest import make_artwork, wait_for
from tests.faults.helpers import fail_once, hog

pytestmark = pytest.mark.django_db(transaction=True)


def _job_pid(studio, job_id: str) -> int:
    return wait_for(lambda: studio.job_meta(job_id).get("pid"), 30, "the job's pid")


def _render(studio, owner, seed: int, style: str = "pencil") -> tuple[int, int]:
    artwork = make_artwork(owner, seed=seed, style=style)
    job_id = enqueue_render(artwork.pk)
    studio.wait_status(artwork.pk, {Artwork.Status.DONE}, 60)
    return artwork.pk, _job_pid(studio, job_id)


def test_jobs_share_one_process_until_it_is_recycled(owner, studio):
    worker = studio.start_worker(STUDIO_WORKER_RECYCLE_JOBS="3")
    pids = [_render(studio, owner, seed)[1] for seed in range(1, 6)]
    assert pids[0] == pids[1] == pids[2]  # kept between jobs
    assert pids[3] == pids[4] != pids[2]  # a fresh one after 3 jobs
    assert worker.pid not in pids  # never the worker process itself


def _nice(pid: int) -> int:
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return int(fields[16])  # field 19 of proc(5), counted after the name


def test_job_process_renders_at_a_lower_priority(owner, studio):
    """Rendering is batch work: on shared cores the web goes first."""
    worker = studio.start_worker(STUDIO_JOB_NICE="7")
    pid = _render(studio, owner, 1)[1]  # the kept job process, still alive
    assert _nice(pid) == 7
    assert _nice(worker.pid) == 0  # the worker itself answers at once


def test_a_failed_job_retires_its_process(owner, studio):
    studio.start_worker()
    first_pid = _render(studio, owner, 1)[1]
    broken = make_artwork(owner, seed=2)
    job_id = studio.enqueue(fail_once, broken.pk)
    failed = studio.wait_status(broken.pk, {Artwork.Status.FAILED}, 30)
    assert failed.error == str(jobs.UNEXPECTED_ERROR)
    assert _job_pid(studio, job_id) == first_pid
    assert _render(studio, owner, 3)[1] != first_pid


def test_idle_job_process_killed_costs_no_attempt(owner, studio):
    studio.start_worker()
    first_pid = _render(studio, owner, 1)[1]
    os.kill(first_pid, signal.SIGKILL)
    pk, pid = _render(studio, owner, 2)
    assert pid != first_pid
    assert Artwork.objects.get(pk=pk).attempts == 1


def test_job_over_the_memory_limit_is_killed_and_settled(owner, studio, settings):
    settings.STUDIO_JOB_RETRIES = 1
    worker = studio.start_worker(STUDIO_JOB_MEMORY_LIMIT_MB="400")
    greedy = make_artwork(owner, seed=1)
    job_id = studio.enqueue(hog, greedy.pk, 600)
    pid = _job_pid(studio, job_id)
    # Killed by the worker's watchdog, retried once, killed again: failed
    # with the reason of a lost worker, long before the job's own sleep ends.
    greedy = studio.wait_status(greedy.pk, {Artwork.Status.FAILED}, 25)
    assert greedy.error == str(jobs.WORKER_LOST)
    assert greedy.attempts == 2
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the hog to be gone")
    assert worker.poll() is None
    _render(studio, owner, 2)  # the worker goes on with a fresh process
