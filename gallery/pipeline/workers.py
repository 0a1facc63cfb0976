"""The rq worker class the studio runs: ``rqworker --worker-class
gallery.pipeline.workers.StudioWorker``.

It is RQ's fork-per-job ``Worker`` (each render runs in a fresh work horse
whose memory is returned to the system when it exits) with two additions:

- a work-horse-killed handler: when the horse dies without a word (SIGKILL,
  the kernel's out-of-memory killer) no failure callback can run inside it,
  so the worker settles the artwork itself: back to queued while RQ retries,
  or failed with a reason;
- database connections are closed before each fork, so a connection the
  worker process opened (in that handler, or in registry cleanup callbacks)
  is never shared with a child;
- the style kernels are compiled once in the worker process before it starts
  taking jobs, so every forked horse inherits them ready instead of paying
  Numba's load or compile time per job.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, close_old_connections, connections
from rq import Worker
from rq.job import Job

import processing
from gallery.pipeline.jobs import settle_failed_job

logger = logging.getLogger(__name__)


def artwork_horse_killed(job: Job, retpid: int, ret_val: int, rusage) -> None:
    """rq work_horse_killed_handler: the horse died mid-job."""
    try:
        outcome = settle_failed_job(job, None, killed=True)
    except DatabaseError:
        logger.warning("could not settle killed job %s", job.id, exc_info=True)
        return
    finally:
        close_old_connections()
    logger.warning(
        "work horse %s of job %s died (status %s): %s", retpid, job.id, ret_val, outcome
    )


class StudioWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("work_horse_killed_handler", artwork_horse_killed)
        super().__init__(*args, **kwargs)

    def work(self, *args, **kwargs) -> bool:
        processing.warm_up()
        return super().work(*args, **kwargs)

    def fork_work_horse(self, job: Job, queue) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)
