"""The request body cap, enforced by the application itself.

No reverse proxy is assumed in front of gunicorn, so the app must refuse an
oversized body before Django spools it to a temporary file:

- a declared ``Content-Length`` above the cap is refused at once, unread
  (from the trusted reverse proxy, which has buffered the whole body and
  caps it itself, the body is read and dropped first: a refusal sent while
  the proxy is still writing would be reset, and the client would see a 502
  instead of the 413);
- a chunked body (no ``Content-Length``) is accepted only on the upload
  endpoints, from a signed-in user (anything else answers 411: no one else
  gets a file spooled to disk), and is read here, counting, into a
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
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from artstudio_site.proxy import peer_is_trusted
from gallery.web.refusals import refused

# Multipart framing around the file (boundaries, headers, the other fields).
BODY_OVERHEAD = 64 * 1024
READ_SIZE = 64 * 1024
# What a trusted proxy may pass beyond our cap (nginx's client_max_body_size
# adds 1 MiB, so the app's own JSON 413 answers bodies just over the cap).
PROXY_MARGIN = 2 * 1024 * 1024
# The views that take a photo: the only ones that may get a chunked body.
UPLOAD_VIEWS = {"gallery:upload", "gallery:api_artworks", "gallery:api_preview"}
# The views that take a new artwork's source, which may be a video: their cap
# is the larger of STUDIO_MAX_VIDEO_BYTES and STUDIO_MAX_UPLOAD_BYTES (the
# form then holds each kind of file to its own). Everything else, the live
# preview included, keeps STUDIO_MAX_UPLOAD_BYTES.
VIDEO_UPLOAD_VIEWS = {"gallery:upload", "gallery:api_artworks"}


def _view_name(request: HttpRequest) -> str:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return ""


def file_limit(request: HttpRequest | None = None) -> int:
    """Largest file the request's endpoint takes, in bytes."""
    if request is not None and _view_name(request) in VIDEO_UPLOAD_VIEWS:
        return max(settings.STUDIO_MAX_VIDEO_BYTES, settings.STUDIO_MAX_UPLOAD_BYTES)
    return settings.STUDIO_MAX_UPLOAD_BYTES


def body_limit(request: HttpRequest | None = None) -> int:
    """Largest request body the request's endpoint accepts, in bytes."""
    return file_limit(request) + BODY_OVERHEAD


def too_large_response(request: HttpRequest) -> HttpResponse:
    """413 as JSON for API clients, as a page for browsers."""
    message = _("The file is too large: the limit is %(limit)s.") % {
        "limit": filesizeformat(file_limit(request))
    }
    return refused(request, message, status=413, field="image")


class RequestBodyLimitMiddleware:
    """Refuse request bodies above ``body_limit()`` with 413, while streaming."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked and raw_length.strip() in ("", "0"):
            return self.get_response(request)  # no body: nothing to cap
        limit = body_limit(request)
        if raw_length.strip():
            try:
                declared = int(raw_length)
            except ValueError:
                return HttpResponse(
                    _("Bad Content-Length."), status=400, content_type="text/plain"
                )
            if declared > limit:
                if peer_is_trusted(request) and declared <= limit + PROXY_MARGIN:
                    self._drain(request.META.get("wsgi.input"), declared)
                return too_large_response(request)
        elif chunked and "wsgi.input" in request.META:
            if not self._may_stream(request):
                return HttpResponse(
                    _("A length is required."), status=411, content_type="text/plain"
                )
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
    def _may_stream(request: HttpRequest) -> bool:
        if request.method != "POST" or not request.user.is_authenticated:
            return False
        return _view_name(request) in UPLOAD_VIEWS

    @staticmethod
    def _drain(stream, length: int) -> None:
        """Read and drop a body the proxy has already buffered."""
        if stream is None:
            return
        while length > 0:
            chunk = stream.read(min(READ_SIZE, length))
            if not chunk:
                return
            length -= len(chunk)

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
