"""The client's address, trusting X-Forwarded-For only behind known proxies.

``ClientAddressMiddleware`` puts it on every request as ``request.client_ip``
(the gallery reads that attribute and never imports this module); django-axes
(login lockout) calls :func:`client_ip` itself. A client can put anything in
X-Forwarded-For; only the entries appended by the
``STUDIO_TRUSTED_PROXY_COUNT`` proxies in front of gunicorn are believed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the nearest trusted proxy saw."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = getattr(settings, "STUDIO_TRUSTED_PROXY_COUNT", 0)
    if not trusted:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    # Each trusted proxy appended the address it received the request from;
    # the one added by the outermost trusted proxy is the client.
    if len(forwarded) >= trusted:
        return forwarded[-trusted]
    return remote


class ClientAddressMiddleware:
    """Resolve the client address once per request: ``request.client_ip``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_ip = client_ip(request)
        return self.get_response(request)
