"""Liveness and readiness endpoints for load balancers and compose."""

from __future__ import annotations

import hmac
import ipaddress
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from gallery.models import Artwork
from gallery.pipeline.progress import live_workers
from gallery.pipeline.queue import get_queue


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests."""
    return JsonResponse({"status": "ok"})


def _error(exc: Exception) -> dict:
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _oldest_queued_age() -> float | None:
    """Seconds the oldest queued artwork has waited (DB: counts job-less rows
    left by a Redis outage too)."""
    oldest = (
        Artwork.objects.filter(status=Artwork.Status.QUEUED, queued_at__isnull=False)
        .order_by("queued_at")
        .values_list("queued_at", flat=True)
        .first()
    )
    if oldest is None:
        return None
    return round((timezone.now() - oldest).total_seconds(), 1)


def _media_disk() -> dict:
    # MEDIA_ROOT appears with the first upload; until then its nearest
    # existing parent is on the same disk.
    root = Path(settings.MEDIA_ROOT).resolve()
    while not root.exists() and root != root.parent:
        root = root.parent
    usage = shutil.disk_usage(root)
    free_mb = usage.free // (1024 * 1024)
    return {
        "ok": free_mb >= settings.STUDIO_READY_MIN_FREE_MB,
        "free_mb": free_mb,
        "min_free_mb": settings.STUDIO_READY_MIN_FREE_MB,
    }


def readiness() -> dict[str, dict]:
    """Every check, each ``{"ok": bool, ...details}``; never raises."""
    checks: dict[str, dict] = {}
    try:
        checks["database"] = _database()
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = _error(exc)
    try:
        queue = get_queue()
        queue.connection.ping()
        checks["redis"] = {"ok": True}
        workers = live_workers(queue)
        checks["workers"] = {"ok": bool(workers), "count": len(workers)}
        depth = queue.count
        checks["queue"] = {
            "ok": depth <= settings.STUDIO_MAX_QUEUE_DEPTH,
            "depth": depth,
            "max_depth": settings.STUDIO_MAX_QUEUE_DEPTH,
        }
    except Exception as exc:  # connection refused, timeout, auth...
        checks["redis"] = _error(exc)
        checks["workers"] = {"ok": False, "count": 0}
    if checks["database"]["ok"]:
        try:
            age = _oldest_queued_age()
            checks["oldest_queued"] = {
                "ok": age is None or age <= settings.STUDIO_READY_MAX_QUEUE_AGE,
                "age_seconds": age,
                "max_age_seconds": settings.STUDIO_READY_MAX_QUEUE_AGE,
            }
        except Exception as exc:
            checks["oldest_queued"] = _error(exc)
    try:
        checks["media_disk"] = _media_disk()
    except OSError as exc:
        checks["media_disk"] = _error(exc)
    return checks


def _may_see_details(request: HttpRequest) -> bool:
    """The checks' details (errors, queue depth, worker counts) are for the
    operator: ``Authorization: Bearer <STUDIO_READYZ_TOKEN>``, or a process
    on this machine talking to gunicorn directly (not through the proxy)."""
    token = settings.STUDIO_READYZ_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        loopback = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        loopback = False
    return loopback and not getattr(request, "via_proxy", False)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to take uploads: database and Redis reachable, a worker with a
    heartbeat in the last 60 s, queue not over its cap, no artwork waiting
    too long, enough free disk for media. 503 when any check fails.

    Everyone gets the status; only the operator gets the details."""
    started = time.monotonic()
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ready else "unavailable"}
    if _may_see_details(request):
        body["checks"] = checks
        body["seconds"] = round(time.monotonic() - started, 3)
    return JsonResponse(body, status=200 if ready else 503)
