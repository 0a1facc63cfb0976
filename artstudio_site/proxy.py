"""The client's address, trusting X-Forwarded-For only behind known proxies.

Used by django-axes (login lockout) and the upload rate limit. A client can
put anything in X-Forwarded-For; only the entries appended by the
``STUDIO_TRUSTED_PROXY_COUNT`` proxies in front of gunicorn are believed.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


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
