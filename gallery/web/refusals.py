"""How the request side says no: one JSON error shape, one "does this client
want JSON" test, and the same message as a page for browsers.

API errors are ``{"error": "...", "field": "..."}`` (DESIGN.md, "JSON API"),
with ``Retry-After`` on 429 and 503.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from gallery import limits


def wants_json(request: HttpRequest) -> bool:
    """API paths, and any client that asks for JSON, get JSON answers."""
    return request.path.startswith("/api/") or "application/json" in request.META.get(
        "HTTP_ACCEPT", ""
    )


def json_error(
    message: str,
    field: str = "",
    *,
    status: int = 400,
    retry_after: int | None = None,
) -> JsonResponse:
    """The API's error answer."""
    response = JsonResponse({"error": str(message), "field": field}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def refusal_json(refusal: limits.UploadRefused, field: str) -> JsonResponse:
    """A quota, backpressure or rate refusal as the API answers it."""
    return json_error(
        refusal.message,
        field,
        status=refusal.status,
        retry_after=refusal.retry_after,
    )


def refused(
    request: HttpRequest,
    message: str,
    *,
    status: int,
    field: str = "",
    retry_after: int | None = None,
) -> HttpResponse:
    """JSON for API clients, else the page ``<status>.html`` with the message."""
    if wants_json(request):
        return json_error(message, field, status=status, retry_after=retry_after)
    response = render(request, f"{status}.html", {"message": message}, status=status)
    if retry_after is not None:
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
            retry_after = limits.hit(
                "upload", request.user.pk, settings.STUDIO_UPLOAD_RATE
            )
            if retry_after is not None:
                message = _("Too many uploads. Please wait %(seconds)d seconds.") % {
                    "seconds": retry_after
                }
                return refused(request, message, status=429, retry_after=retry_after)
        return view(request, *args, **kwargs)

    return wrapper
