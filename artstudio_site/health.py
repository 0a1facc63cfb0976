"""Liveness and readiness endpoints for load balancers and compose."""

from __future__ import annotations

import time

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rq import Worker

from gallery.services import get_queue


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database and Redis reachable and at least one worker registered."""
    checks: dict[str, dict] = {}
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = {"ok": False, "error": str(exc)[:200]}
    try:
        queue = get_queue()
        queue.connection.ping()
        workers = Worker.count(queue=queue)
        checks["redis"] = {"ok": True}
        checks["workers"] = {"ok": workers > 0, "count": workers}
        checks["queue"] = {"ok": True, "depth": queue.count}
    except Exception as exc:  # connection refused, timeout, auth...
        checks["redis"] = {"ok": False, "error": str(exc)[:200]}
        checks["workers"] = {"ok": False, "count": 0}
    ready = all(check["ok"] for check in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        "seconds": round(time.monotonic() - started, 3),
    }
    return JsonResponse(body, status=200 if ready else 503)
