"""Per-user request budgets counted in the shared (Redis) cache.

A fixed window per user and scope: cheap, self-expiring, and the same for
every gunicorn worker and machine because the cache is Redis. When Redis is
down the cache degrades to misses (artstudio_site/cache.py) and requests pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from artstudio_site.uploads import wants_json

WINDOW_SECONDS = 60


def hit(scope: str, ident: str | int, limit: int, *, now: float | None = None):
    """Count one request; return seconds to wait when over ``limit``, else None."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"rate:{scope}:{ident}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        count = cache.incr(key)
    except ValueError:
        # Expired between add() and incr(), or the cache is unavailable.
        cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
        count = 1
    if count > limit:
        return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    return None


def rate_limited_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = _("Too many uploads. Please wait %(seconds)d seconds.") % {
        "seconds": retry_after
    }
    if wants_json(request):
        response = JsonResponse({"error": message, "field": ""}, status=429)
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def upload_rate_limit(view: Callable) -> Callable:
    """Allow each signed-in user ``STUDIO_UPLOAD_RATE`` upload POSTs a minute.

    Every attempt counts, valid or not: the budget protects the decoding and
    storage work behind the form, which an invalid file costs too.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.method == "POST" and request.user.is_authenticated:
            retry_after = hit("upload", request.user.pk, settings.STUDIO_UPLOAD_RATE)
            if retry_after is not None:
                return rate_limited_response(request, retry_after)
        return view(request, *args, **kwargs)

    return wrapper
