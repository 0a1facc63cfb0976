"""The one place that serves stored files: to the pages, the API and the admin.

Media never has a public URL. Callers check access first (the artwork's
visibility, or the admin's permissions); files are then streamed from
storage, or, when media lives in a bucket, the viewer is redirected to a
short-lived signed URL. Content types come from the format table
(``processing.formats``), so the pages and the admin always agree.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

import processing
from gallery import limits, preview, services, sharing
from gallery.models import FILE_KINDS, Artwork
from gallery.storage import conversions
from gallery.web.refusals import json_error, refused
from processing import formats

#: ``?format=`` choices for a full-size result download.
DOWNLOAD_FORMATS = {f.slug: f for f in formats.FORMATS if f.encodable}
# One range of bytes (what browsers send to seek in a video): "bytes=0-",
# "bytes=100-199" or the last N bytes, "bytes=-N".
# ASCII digits, at most 18 (beyond any file): a longer position is not a
# range this server takes (and int() refuses over 4300 digits).
_RANGE = re.compile(
    r"^\s*bytes\s*=\s*([0-9]{0,18})\s*-\s*([0-9]{0,18})\s*$", re.IGNORECASE
)


class RangeNotSatisfiable(Exception):
    """A Range header that asks for bytes the file does not have."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The ``(first, last)`` byte positions (inclusive) a Range header asks
    for in a file of ``size`` bytes; None to send the whole file (no header,
    or one this server does not take: several ranges, another unit).
    Raises RangeNotSatisfiable for a range outside the file."""
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


class _RangeReader:
    """A file handle read from its current position for ``length`` bytes."""

    def __init__(self, handle, length: int):
        self.handle = handle
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.handle.read(size)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


def media_url(artwork: Artwork, kind: str, *, download: bool = False) -> str | None:
    """The access-checked URL of an artwork's file, or None until it exists."""
    if not artwork.file(kind):
        return None
    url = reverse("gallery:artwork_media", args=[artwork.pk, kind])
    return f"{url}?download=1" if download else url


def file_response(
    field,
    *,
    filename: str | None = None,
    download: bool = False,
    cache_seconds: int = 3600,
    name: str | None = None,
    request: HttpRequest | None = None,
) -> HttpResponse:
    """Stream a stored file (already access-checked) with its content type:
    the field's own, or the file ``name`` in the field's storage.

    A ``Range`` header of the ``request`` (one range of bytes: browsers send
    it to seek in a video) gets 206 with that part, or 416 when it lies
    outside the file. Stored names are never reused for other content, so no
    validator (``If-Range``) is needed. 404 when the row has no file or
    storage lost it.
    """
    if not field:
        raise Http404("Not rendered yet.")
    name = name or field.name
    try:
        handle = field.storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    wanted = None
    header = request.headers.get("Range", "") if request is not None else ""
    if header:
        size = field.storage.size(name)
        try:
            wanted = byte_range(header, size)
        except RangeNotSatisfiable:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            response["Accept-Ranges"] = "bytes"
            return response
    body = handle
    if wanted is not None:
        first, last = wanted
        handle.seek(first)
        body = _RangeReader(handle, last - first + 1)
    response = FileResponse(
        body,
        content_type=formats.content_type(PurePosixPath(name).suffix),
        as_attachment=download,
        filename=filename,
    )
    if wanted is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = f"private, max-age={cache_seconds}"
    return response


def _download_name(artwork: Artwork, kind: str, suffix: str) -> str:
    label = artwork.style if kind != "original" else "original"
    return f"artwork-{artwork.pk}-{label}{suffix}"


def _signed_media_redirect(
    artwork: Artwork, kind: str, field, *, download: bool, name: str | None = None
) -> HttpResponse:
    """Send the (already access-checked) viewer to a short-lived signed URL.

    The bucket is private; the URL expires after STUDIO_S3_URL_EXPIRY seconds
    and the signature covers the response headers set here, so it cannot be
    edited into serving something else.
    """
    name = name or field.name
    suffix = PurePosixPath(name).suffix.lower()
    disposition = "attachment" if download else "inline"
    url = field.storage.url(
        name,
        parameters={
            "ResponseContentType": formats.content_type(suffix),
            "ResponseContentDisposition": (
                f'{disposition}; filename="{_download_name(artwork, kind, suffix)}"'
            ),
            "ResponseCacheControl": "private, max-age=300",
        },
    )
    response = redirect(url)
    # Never cache the redirect longer than the signature lives.
    response["Cache-Control"] = f"private, max-age={settings.STUDIO_S3_URL_EXPIRY // 2}"
    return response


@require_GET
def artwork_media(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Serve a stored file after the same access check as the artwork page.

    ``?format=jpeg|png|webp`` on a result gives it at full size in that
    format (converted once by a worker, then stored: 503 with Retry-After
    until then; with ``&prepare=1`` the answer is ``{"ready": false,
    "retry_after": 2}`` until then and ``{"ready": true}`` instead of the
    file after); ``?download=1`` asks the browser to save it. Every client has a per-minute budget of media requests
    (STUDIO_MEDIA_RATE) and of conversions (STUDIO_CONVERT_RATE).
    """
    if kind not in FILE_KINDS:
        raise Http404("No such file.")
    refusal = _over_media_budget(request)
    if refusal is not None:
        return refusal
    slug = request.GET.get("format", "")
    fmt = DOWNLOAD_FORMATS.get(slug) if slug else None
    if slug and (kind != "result" or fmt is None):
        choices = ", ".join(DOWNLOAD_FORMATS)
        return json_error(
            _("format must be one of %(choices)s (results only).")
            % {"choices": choices},
            "format",
        )
    # The original is the owner's upload as sent, EXIF and GPS included: only
    # the re-encoded result and thumbnail of a public artwork are public.
    artworks = (
        Artwork.objects.filter(owner_id=request.user.pk)
        if kind == "original"
        else Artwork.objects.visible_to(request.user)
    )
    artwork = get_object_or_404(artworks.select_related("photo"), pk=pk)
    if slug and artwork.photo.is_moving:
        # A video's result is an MP4 (its animation a WebP): no still formats.
        return json_error(
            _("A video is downloaded as it is: format is for photos only."),
            "format",
        )
    field = artwork.file(kind)
    if not field:
        raise Http404("Not rendered yet.")
    download = request.GET.get("download") == "1"
    name = field.name
    if fmt is not None and fmt.slug != "jpeg":  # results are stored as JPEG
        name = conversions.stored_copy(field, fmt) or ""
        if not name:
            return _copy_on_its_way(request, artwork, fmt)
        if request.GET.get("prepare") == "1":
            return JsonResponse({"ready": True})
    if settings.STUDIO_STORAGE == "s3":
        return _signed_media_redirect(
            artwork, kind, field, download=download, name=name
        )
    suffix = PurePosixPath(name).suffix.lower()
    return file_response(
        field,
        name=name,
        filename=_download_name(artwork, kind, suffix),
        download=download,
        request=request,
    )


def _copy_on_its_way(request: HttpRequest, artwork: Artwork, fmt) -> HttpResponse:
    """The first download of a result in another format: a worker converts it
    (``services.artwork_request_copy``) and the client is told to come back;
    the artwork page's script asks (``&prepare=1``) until it is ready, then
    downloads."""
    try:
        services.artwork_request_copy(artwork, fmt, request.client_ip)
    except limits.UploadRefused as refusal:
        return refused(
            request,
            refusal.message,
            status=refusal.status,
            field="format",
            retry_after=refusal.retry_after,
        )
    if request.GET.get("prepare") == "1":  # the page's script asks: not an error
        return JsonResponse({"ready": False, "retry_after": 2})
    return refused(
        request,
        _("This download is being prepared; try again in a moment."),
        status=503,
        field="format",
        retry_after=2,
    )


def _too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = limits.over_rate(retry_after).message
    return refused(request, message, status=429, retry_after=retry_after)


def _over_media_budget(request: HttpRequest) -> HttpResponse | None:
    retry_after = limits.hit("media", request.client_ip, settings.STUDIO_MEDIA_RATE)
    return None if retry_after is None else _too_many(request, retry_after)


@require_GET
def shared_media(request: HttpRequest, signed: str) -> HttpResponse:
    """A file of a shared artwork (result or thumbnail, never the original)
    by a signed, short-lived URL: no session needed, so link previews work.

    The link behind the signature is checked on every request: a revoked or
    expired link, or a hidden or deleted artwork, answers 404 at once.
    """
    refusal = _over_media_budget(request)
    if refusal is not None:
        return refusal
    found = sharing.link_for_media_signature(signed)
    if found is None:
        raise Http404("No such file.")
    link, kind = found
    artwork = link.artwork
    field = artwork.file(kind)
    if not field:
        raise Http404("Not rendered yet.")
    if settings.STUDIO_STORAGE == "s3":
        response = _signed_media_redirect(artwork, kind, field, download=False)
    else:
        suffix = PurePosixPath(field.name).suffix.lower()
        response = file_response(
            field,
            filename=_download_name(artwork, kind, suffix),
            cache_seconds=0,
            request=request,
        )
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    return response


@require_GET
def style_sample(request: HttpRequest, slug: str) -> HttpResponse:
    """The sample image of a style, rendered by our engine at first use."""
    if slug not in processing.STYLES:
        raise Http404("No such style.")
    response = HttpResponse(preview.style_sample(slug), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response
