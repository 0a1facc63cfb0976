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
- a scheduler that died (``--with-scheduler``; it exits when Redis
  restarts) is started again within seconds, not at RQ's next maintenance
  pass, 10 minutes later;
- the style kernels are compiled once in the worker process before it starts
  taking jobs, so every forked horse inherits them ready instead of paying
  Numba's load or compile time per job.
"""

from __future__ import annotations

import logging
import time

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


# An idle worker wakes this often from its blocking dequeue (RQ's default:
# 405 s) to beat and to look after its scheduler.
SCHEDULER_CHECK_SECONDS = 5


class StudioWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("work_horse_killed_handler", artwork_horse_killed)
        super().__init__(*args, **kwargs)
        self._scheduler_checked = 0.0

    @property
    def dequeue_timeout(self) -> int:
        return SCHEDULER_CHECK_SECONDS

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline=pipeline)
        if pipeline is None:  # not mid-job, inside the job's heartbeat pipeline
            self.revive_scheduler()

    def revive_scheduler(self) -> None:
        """Start the scheduler process again if it died.

        ``--with-scheduler`` runs delayed retries from a process that exits
        when its Redis connection drops (a Redis restart); RQ itself starts
        it again only in the maintenance pass, every 10 minutes, so retries
        waited that long (issue 11, item 12). Checked on every heartbeat
        (every SCHEDULER_CHECK_SECONDS when idle, and between jobs); the lock
        makes sure that only one worker's scheduler runs per queue.
        """
        scheduler = self.scheduler
        now = time.monotonic()
        if scheduler is None or now - self._scheduler_checked < SCHEDULER_CHECK_SECONDS:
            return
        self._scheduler_checked = now
        process = scheduler._process
        if process is not None and process.is_alive():
            return
        if process is not None:
            logger.warning(
                "rq scheduler died (exit code %s); restarting it", process.exitcode
            )
        scheduler.acquire_locks(auto_start=True)

    def work(self, *args, **kwargs) -> bool:
        processing.warm_up()
        return super().work(*args, **kwargs)

    def fork_work_horse(self, job: Job, queue) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)
