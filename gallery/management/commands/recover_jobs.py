from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from redis.exceptions import RedisError

from gallery.pipeline.recovery import recover_jobs


class Command(BaseCommand):
    help = (
        "Find artworks whose render job was lost (Redis was down, a worker was "
        "killed) and enqueue them again or mark them failed with a reason. "
        "With --every, keep doing so until stopped (SIGTERM or Ctrl-C)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only report what would be enqueued, re-queued or failed.",
        )
        parser.add_argument(
            "--grace",
            type=int,
            default=60,
            help="Seconds past the job timeout before a processing artwork counts as stuck.",
        )
        parser.add_argument(
            "--min-age",
            type=int,
            default=0,
            help="Seconds a queued artwork without a live job waits before it is "
            "enqueued (younger ones may be between commit and enqueue; a duplicate "
            "job would find the row taken and do nothing, this only saves the work).",
        )
        parser.add_argument(
            "--every",
            type=int,
            default=0,
            metavar="SECONDS",
            help="Run again every SECONDS seconds until stopped "
            f"(the stack uses STUDIO_SWEEP_INTERVAL, {settings.STUDIO_SWEEP_INTERVAL}). "
            "0: run once.",
        )

    def handle(
        self, *args, dry_run: bool, grace: int, min_age: int, every: int, **options
    ):
        if every <= 0:
            self._sweep(dry_run, grace, min_age, loop=False)
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"sweeping every {every} s until stopped")
        while not stop.is_set():
            self._sweep(dry_run, grace, min_age, loop=True)
            close_old_connections()
            stop.wait(every)

    def _sweep(self, dry_run: bool, grace: int, min_age: int, *, loop: bool) -> None:
        try:
            report = recover_jobs(
                dry_run=dry_run, grace_seconds=grace, min_age_seconds=min_age
            )
        except RedisError as exc:
            message = f"Redis is not reachable, nothing changed: {exc}"
            if not loop:
                raise CommandError(message) from exc
            self.stderr.write(message)  # the next round tries again
            return
        except Exception as exc:  # a database outage must not end the loop
            if not loop:
                raise
            self.stderr.write(f"sweep failed, trying again later: {exc}")
            return
        if loop and not (
            report.enqueued or report.requeued or report.failed or report.scheduled
        ):
            return  # a quiet loop keeps the log readable
        if report.scheduled:
            self.stdout.write(
                f"enqueued {len(report.scheduled)} overdue scheduled retry(ies) "
                "(no RQ scheduler was running)"
            )
        verb = "would enqueue" if dry_run else "enqueued"
        self.stdout.write(
            f"{verb} {len(report.enqueued)} queued artwork(s) without a live job"
        )
        verb = "would re-queue" if dry_run else "re-queued"
        self.stdout.write(
            f"{verb} {len(report.requeued)} artwork(s) whose worker was lost"
        )
        verb = "would mark" if dry_run else "marked"
        self.stdout.write(
            f"{verb} {len(report.failed)} stuck processing artwork(s) failed"
        )
