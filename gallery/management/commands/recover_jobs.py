from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from gallery.recovery import recover_jobs


class Command(BaseCommand):
    help = (
        "Find artworks whose render job was lost (Redis was down, a worker was "
        "killed) and enqueue them again or mark them failed with a reason."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only report what would be enqueued or failed.",
        )
        parser.add_argument(
            "--grace",
            type=int,
            default=60,
            help="Seconds past the job timeout before a processing artwork counts as stuck.",
        )

    def handle(self, *args, dry_run: bool, grace: int, **options):
        try:
            report = recover_jobs(dry_run=dry_run, grace_seconds=grace)
        except RedisError as exc:
            raise CommandError(
                f"Redis is not reachable, nothing changed: {exc}"
            ) from exc
        verb = "would enqueue" if dry_run else "enqueued"
        self.stdout.write(
            f"{verb} {len(report.enqueued)} queued artwork(s) without a live job"
        )
        verb = "would mark" if dry_run else "marked"
        self.stdout.write(
            f"{verb} {len(report.failed)} stuck processing artwork(s) failed"
        )
