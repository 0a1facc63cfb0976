"""The request body cap, enforced by the application itself.

No reverse proxy is assumed in front of gunicorn, so the app must refuse an
oversized body before Django spools it to a temporary file:

- a declared ``Content-Length`` above the cap is refused at once, unread;
- a chunked body (no ``Content-Length``) is read here, counting, into a
  temporary file that switches from memory to disk at
  ``FILE_UPLOAD_MAX_MEMORY_SIZE``; past the cap the reading stops and the
  request is refused. At most the cap is ever held, never the whole body.
  (Without this, Django would see a chunked body as empty: WSGI gives it no
  length to read.)

The refusal is a 413 (JSON for the API, a page otherwise), never a 500, and
the worker process carries on with the next request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from gallery.web.refusals import refused

# Multipart framing around the file (boundaries, headers, the other fields).
BODY_OVERHEAD = 64 * 1024
READ_SIZE = 64 * 1024


def body_limit() -> int:
    """Largest request body accepted, in bytes."""
    return settings.STUDIO_MAX_UPLOAD_BYTES + BODY_OVERHEAD


def too_large_response(request: HttpRequest) -> HttpResponse:
    """413 as JSON for API clients, as a page for browsers."""
    message = _("The file is too large: the limit is %(limit)s.") % {
        "limit": filesizeformat(settings.STUDIO_MAX_UPLOAD_BYTES)
    }
    return refused(request, message, status=413, field="image")


class RequestBodyLimitMiddleware:
    """Refuse request bodies above ``body_limit()`` with 413, while streaming."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit()
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if raw_length.strip():
            try:
                declared = int(raw_length)
            except ValueError:
                return HttpResponse(
                    _("Bad Content-Length."), status=400, content_type="text/plain"
                )
            if declared > limit:
                return too_large_response(request)
        elif chunked and "wsgi.input" in request.META:
            spool = self._read_capped(request.META["wsgi.input"], limit)
            if spool is None:
                return too_large_response(request)
            size = spool.seek(0, 2)
            spool.seek(0)
            # From here Django reads the counted copy as an ordinary body.
            request.META["CONTENT_LENGTH"] = str(size)
            request._stream = LimitedStream(spool, size)
            try:
                return self.get_response(request)
            finally:
                spool.close()
        return self.get_response(request)

    @staticmethod
    def _read_capped(stream, limit: int):
        """Copy the body into a spooled file; None (and nothing kept) past limit."""
        spool = tempfile.SpooledTemporaryFile(
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            dir=settings.FILE_UPLOAD_TEMP_DIR,
        )
        total = 0
        while True:
            chunk = stream.read(READ_SIZE)
            if not chunk:
                return spool
            total += len(chunk)
            if total > limit:
                spool.close()
                return None
            spool.write(chunk)
