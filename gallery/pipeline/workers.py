"""The rq worker class the studio runs: ``rqworker --worker-class
gallery.pipeline.workers.StudioWorker``.

RQ's ``Worker`` forks a fresh work horse for every job. That costs a fork,
new database and Redis connections, Numba's thread pool started again and
page faults on every buffer, per job: a quarter of a 2 MP job's time. The
studio's worker forks a *job process* once and hands it job after job over a
pipe, and keeps every guarantee of the work horse:

- the job process runs each job exactly as a horse does (RQ's own
  ``perform_job``: timeout, retries, callbacks, registries);
- when it dies without a word (SIGKILL, the kernel's out-of-memory killer)
  the worker sees it at once and settles the artwork through the same
  work-horse-killed handler: back to queued while RQ retries, or failed with
  a reason; the next job gets a new job process;
- memory is bounded per job: the worker watches the job process's resident
  size while a job runs and kills it above ``STUDIO_JOB_MEMORY_LIMIT_MB``
  (the same path as the OOM killer);
- it is recycled (exits, and the next job forks a fresh one) after
  ``STUDIO_WORKER_RECYCLE_JOBS`` jobs, when its resident size after a job is
  above ``STUDIO_WORKER_RECYCLE_MB``, and after any job that failed, so a
  timeout or an exception never leaves state behind for the next job;
- between jobs it returns freed heap to the system (``malloc_trim``);
- it runs at a lower CPU priority (``STUDIO_JOB_NICE``, 10): on shared
  cores, pages and status polls are answered before a render's next slice;
- a scheduler that died (``--with-scheduler``; it exits when Redis
  restarts) is started again within seconds, not at RQ's next maintenance
  pass, 10 minutes later;
- the style kernels are compiled once in the worker process before it takes
  jobs, so every job process inherits them ready; database connections are
  closed before each fork so a connection is never shared with a child.

``STUDIO_WORKER_RECYCLE_JOBS=1`` gives RQ's fork-per-job behaviour back.
"""

from __future__ import annotations

import logging
import os
import random
import select
import signal
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from rq import Worker
from rq.executions import Execution
from rq.job import Job

import processing
from gallery.pipeline.jobs import settle_failed_job
from gallery.pipeline.memory import release_heap, rss_mb

logger = logging.getLogger(__name__)

# How often the worker looks at a running job process (memory watchdog).
_WATCH_SECONDS = 0.25


def artwork_horse_killed(job: Job, retpid: int, ret_val: int, rusage) -> None:
    """rq work_horse_killed_handler: the job process died mid-job."""
    try:
        outcome = settle_failed_job(job, None, killed=True)
    except DatabaseError:
        logger.warning("could not settle killed job %s", job.id, exc_info=True)
        return
    finally:
        close_old_connections()
    logger.warning(
        "job process %s of job %s died (status %s): %s",
        retpid,
        job.id,
        ret_val,
        outcome,
    )


def _lower_priority(nice: int) -> None:
    """Run this process (and the threads it starts) at ``nice``, unless it
    already runs lower; raising a priority would need privileges."""
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)


# An idle worker wakes this often from its blocking dequeue (RQ's default:
# 405 s) to beat and to look after its scheduler.
SCHEDULER_CHECK_SECONDS = 5


class StudioWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("work_horse_killed_handler", artwork_horse_killed)
        super().__init__(*args, **kwargs)
        self._kept_pid = 0  # the job process, 0 when there is none
        self._to_horse = -1  # pipe: job ids to the job process
        self._from_horse = -1  # pipe: one line per finished job back
        self._replies = b""
        self._kept_jobs = 0
        self._retire_pending = False
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
        # A cold cache is filled in a child: this process, which every job
        # process is forked from, then loads the kernels and keeps none of
        # the compiler's ~240 MB.
        processing.fill_kernel_cache()
        processing.warm_up()
        return super().work(*args, **kwargs)

    def execute_job(self, job: Job, queue) -> None:
        super().execute_job(job, queue)
        if self._retire_pending:  # outside RQ's monitor (and its SIGALRM)
            self._retire_horse()

    def teardown(self) -> None:
        if not self.is_horse:
            self._retire_horse()
        super().teardown()

    # The worker's side ---------------------------------------------------

    def fork_work_horse(self, job: Job, queue) -> None:
        """Hand the job to the kept job process, forking one if needed."""
        if self._kept_pid and os.waitpid(self._kept_pid, os.WNOHANG)[0]:
            self._forget_horse()  # it died while idle (killed, OOM): fork anew
        if not self._kept_pid:
            self._start_horse()
        message = f"{job.id} {queue.name} {self.execution.id}\n".encode()
        try:
            os.write(self._to_horse, message)
        except OSError:
            # It died while idle: the next wait reports it, as for a horse
            # that died mid-job, and the job is settled the same way.
            pass
        self._horse_pid = self._kept_pid
        self.procline(f"Job {job.id} in {self._kept_pid} at {time.time()}")

    def _start_horse(self) -> None:
        connections.close_all()
        jobs_read, jobs_write = os.pipe()
        replies_read, replies_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(jobs_write)
            os.close(replies_read)
            try:
                self._horse_main(jobs_read, replies_write)
            finally:
                os._exit(0)
        os.close(jobs_read)
        os.close(replies_write)
        self._kept_pid, self._kept_jobs, self._replies = pid, 0, b""
        self._to_horse, self._from_horse = jobs_write, replies_read
        logger.debug("worker %s: job process %s started", self.name, pid)

    def wait_for_horse(self):
        """Wait until the job process reports the job done, or dies.

        Returns what ``os.wait4`` would: ``(pid, 0, None)`` for a finished
        job (RQ reads status 0 as a horse that exited normally), the real
        wait status of a job process that died.
        """
        pid = self._kept_pid
        if not pid:
            return None, None, None
        limit = settings.STUDIO_JOB_MEMORY_LIMIT_MB
        while b"\n" not in self._replies:
            ready, _, _ = select.select([self._from_horse], [], [], _WATCH_SECONDS)
            if ready:
                # SIGALRM (RQ's monitor interval) must not strike between the
                # read and keeping what was read.
                mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
                try:
                    chunk = os.read(self._from_horse, 4096)
                    self._replies += chunk
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                if not chunk:
                    return self._reap()
            elif rss_mb(pid) > limit:
                logger.warning(
                    "worker %s: job process %s above %s MB, killing it",
                    self.name,
                    pid,
                    limit,
                )
                self._kill_kept(signal.SIGKILL)
                return self._reap()
        line, _, self._replies = self._replies.partition(b"\n")
        ok, rss = line.split()
        self._kept_jobs += 1
        if (
            ok != b"ok"
            or self._kept_jobs >= settings.STUDIO_WORKER_RECYCLE_JOBS
            or float(rss) > settings.STUDIO_WORKER_RECYCLE_MB
        ):
            self._retire_pending = True
        return pid, 0, None

    def _kill_kept(self, sig) -> None:
        try:
            os.killpg(self._kept_pid, sig)
        except OSError:
            pass

    def _reap(self):
        """Collect a job process that died (or is dying) and forget it."""
        pid = self._kept_pid
        try:
            found, status, rusage = os.wait4(pid, 0)
        except ChildProcessError:
            found, status, rusage = pid, 0, None
        self._forget_horse()
        return found, status, rusage

    def _forget_horse(self) -> None:
        for fd in (self._to_horse, self._from_horse):
            if fd >= 0:
                os.close(fd)
        self._kept_pid, self._to_horse, self._from_horse = 0, -1, -1
        self._replies, self._retire_pending = b"", False

    def _retire_horse(self, timeout: float = 10) -> None:
        """Let the idle job process exit (end of its pipe), SIGKILL if slow."""
        pid = self._kept_pid
        if not pid:
            return
        if self._to_horse >= 0:
            os.close(self._to_horse)
            self._to_horse = -1
        deadline = time.monotonic() + timeout
        while True:
            try:
                found, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if found:
                break
            if time.monotonic() > deadline:
                self._kill_kept(signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.01)
        self._forget_horse()

    # The job process's side ------------------------------------------------

    def _horse_main(self, jobs_fd: int, replies_fd: int) -> None:
        """Run jobs as the worker sends them, until it closes the pipe."""
        os.setpgrp()
        _lower_priority(settings.STUDIO_JOB_NICE)
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self.log = logging.getLogger("rq.worker")
        jobs = os.fdopen(jobs_fd, "rb")
        while True:
            line = jobs.readline()
            if not line.endswith(b"\n"):
                return  # the worker retired us, or died
            job_id, queue_name, execution_id = line.decode().split()
            ok = self._perform_kept(job_id, queue_name, execution_id)
            release_heap()
            reply = f"{'ok' if ok else 'failed'} {rss_mb():.1f}\n".encode()
            try:
                os.write(replies_fd, reply)
            except OSError:
                return  # the worker is gone

    def _perform_kept(self, job_id: str, queue_name: str, execution_id: str) -> bool:
        close_old_connections()  # as Django does at the start of a request
        try:
            job = Job.fetch(
                job_id, connection=self.connection, serializer=self.serializer
            )
            queue = next(q for q in self.queues if q.name == queue_name)
            self.execution = Execution.fetch(execution_id, job_id, self.connection)
        except Exception:  # noqa: BLE001 - the worker settles it as a lost horse
            logger.exception("job process could not load job %s", job_id)
            os._exit(1)
        return bool(self.perform_job(job, queue))
