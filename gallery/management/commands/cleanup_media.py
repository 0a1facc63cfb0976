from __future__ import annotations

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from gallery.storage import retention

_AGE = re.compile(r"^\s*(\d+)\s*([dhm]?)\s*$")
_UNITS = {"d": "days", "": "days", "h": "hours", "m": "minutes"}


def parse_age(value: str) -> timedelta:
    """'30d', '12h', '90m' or a plain number of days."""
    match = _AGE.match(value)
    if not match:
        raise ValueError(
            f"invalid age {value!r}: use a number with d (days), h or m, e.g. 30d"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Delete what storage no longer needs: photos and artworks past the "
        "retention age (STUDIO_RETENTION_DAYS, off by default), failed "
        "artworks past STUDIO_FAILED_RETENTION_DAYS, files no row references "
        "(older than STUDIO_ORPHAN_GRACE_HOURS) and stale upload temporary "
        "files. Queued or processing artworks are never touched. Without "
        "--older-than/--failed/--orphans every configured step runs. Safe to "
        "run twice or concurrently; works in batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="AGE",
            help=(
                "Delete photos and artworks older than AGE (30d, 12h, 90m; a "
                "plain number is days), whatever STUDIO_RETENTION_DAYS says. "
                "With --failed: the age of the failed artworks to purge instead."
            ),
        )
        parser.add_argument(
            "--failed",
            action="store_true",
            help="Purge failed artworks (older than STUDIO_FAILED_RETENTION_DAYS, or --older-than).",
        )
        parser.add_argument(
            "--orphans",
            action="store_true",
            help="Delete files no row references, and stale upload temporary files.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only report what would be deleted (same counts as a real run).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=retention.DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Rows or files per transaction (default {retention.DEFAULT_BATCH_SIZE}).",
        )

    def handle(
        self,
        *args,
        older_than: str | None,
        failed: bool,
        orphans: bool,
        dry_run: bool,
        batch_size: int,
        **options,
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            age = parse_age(older_than) if older_than is not None else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        expired_after, failed_after = retention.configured_ages()
        if older_than is not None or failed or orphans:
            # Explicit flags: run only the steps asked for.
            if failed:
                failed_after = age if age is not None else failed_after
                expired_after = None
                if failed_after is None:
                    self.stdout.write(
                        "failed: off (STUDIO_FAILED_RETENTION_DAYS is 0; "
                        "give --older-than)"
                    )
            else:
                expired_after, failed_after = age, None
        else:
            orphans = True
            if expired_after is None:
                self.stdout.write("expired: off (STUDIO_RETENTION_DAYS is 0)")
            if failed_after is None:
                self.stdout.write("failed: off (STUDIO_FAILED_RETENTION_DAYS is 0)")
        try:
            report = retention.run_cleanup(
                expired_after=expired_after,
                failed_after=failed_after,
                orphans=orphans,
                dry_run=dry_run,
                batch_size=batch_size,
            )
        except Exception as exc:
            # Batches already committed stay done; a re-run picks up the rest.
            raise CommandError(f"cleanup_media failed: {exc}") from exc
        verb = "would delete" if dry_run else "deleted"
        for step in report.steps:
            self.stdout.write(self._line(step, verb))
        self.stdout.write(self._line(report.total, verb))

    @staticmethod
    def _line(step: retention.StepResult, verb: str) -> str:
        if step.step in ("orphans", "temp"):
            what = f"{step.files} file(s)"
        else:
            what = (
                f"{step.photos} photo(s), {step.artworks} artwork(s) "
                f"({step.expired} expired, {step.failed} failed)"
            )
            if step.step == "total":
                what += f", {step.files} stray file(s)"
        size = filesizeformat(step.bytes).replace("\xa0", " ")
        return f"{step.step}: {verb} {what}, {size} ({step.bytes} bytes)"
