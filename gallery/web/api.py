"""The JSON API (DESIGN.md, "JSON API"), used by the pages' own scripts and
by automation.

Every view goes through :func:`api_view`: allowed methods, authentication
(401 without a session) and the refusals of ``gallery.limits`` answered as
``{"error", "field"}`` with ``Retry-After`` where waiting helps.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

import processing
from gallery import limits, preview
from gallery.models import Artwork
from gallery.pipeline.progress import artwork_progress
from gallery.web.forms import ArtworkRequestForm, PhotoArtworkRequestForm, PreviewForm
from gallery.web.media import media_url
from gallery.web.refusals import json_error, refusal_json, upload_rate_limit


def api_view(*methods: str, login_message: str | Promise | None = None) -> Callable:
    """Allow ``methods`` only; with ``login_message``, answer 401 with it to
    a request without a session."""

    def decorator(view: Callable) -> Callable:
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if login_message is not None and not request.user.is_authenticated:
                return json_error(login_message, status=401)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def artwork_json(artwork: Artwork) -> dict:
    """An artwork as ``GET /api/artworks/<id>/`` answers it."""
    state = artwork_progress(artwork)
    return {
        "id": artwork.pk,
        "style": artwork.style,
        "params": artwork.params,
        "engine_version": artwork.engine_version,
        "status": artwork.status,
        "stage": state["stage"],
        "progress": state["progress"],
        "queue_position": state["queue_position"],
        "eta_seconds": state["eta_seconds"],
        "error": artwork.error,
        "result_url": media_url(artwork, "result"),
        "thumbnail_url": media_url(artwork, "thumbnail"),
        "original_url": media_url(artwork, "original"),
        "public": artwork.public,
        "created": artwork.created.isoformat(),
    }


def _accepted(artworks: list[Artwork]) -> JsonResponse:
    return JsonResponse(
        {
            "artworks": [
                {
                    "id": a.pk,
                    "status": a.status,
                    "url": reverse("gallery:api_artwork", args=[a.pk]),
                }
                for a in artworks
            ]
        },
        status=202,
    )


@api_view("GET")
def api_styles(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"styles": [s.as_dict() for s in processing.STYLES.values()]})


@api_view("POST", login_message=gettext_lazy("Sign in to upload photos."))
@upload_rate_limit
def api_artworks(request: HttpRequest) -> JsonResponse:
    """A new photo (``image``) or a stored one (``photo``, a remix) in one or
    more styles."""
    if "image" not in request.FILES and "photo" in request.POST:
        form = PhotoArtworkRequestForm(request.user, request.POST)
        source_field = "photo"
    else:
        form = ArtworkRequestForm(request.POST, request.FILES)
        source_field = "image"
    if not form.is_valid():
        field, message = form.first_error()
        return json_error(message, field)
    try:
        artworks = form.save(request.user)
    except limits.UploadRefused as refusal:
        return refusal_json(refusal, source_field)
    return _accepted(artworks)


@api_view("POST", login_message=gettext_lazy("Sign in to preview styles."))
def api_preview(request: HttpRequest) -> HttpResponse:
    """Render a small preview of the user's own photo, synchronously.

    multipart: ``photo`` (id of one of your photos) or ``image`` (a file,
    ideally already scaled down by the browser), ``style``, ``params`` (JSON
    ``{name: value}``). Answers ``image/jpeg`` with a long side of at most
    512 px; 400 with ``{"error", "field"}``; 429 with ``Retry-After``.
    """
    form = PreviewForm(request.user, request.POST, request.FILES)
    if not form.is_valid():
        field, message = form.first_error()
        return json_error(message, field)
    retry_after = preview.check_rate(request.user.pk)
    if retry_after is not None:
        return json_error(
            _("Too many previews at once; try again in a moment."),
            status=429,
            retry_after=retry_after,
        )
    content_hash, load = form.source()
    try:
        jpeg, cached = preview.render_preview(
            content_hash, load, form.cleaned_data["style"], form.cleaned_data["params"]
        )
    except processing.InvalidImage as exc:
        return json_error(str(exc), "image")
    except ValueError as exc:
        return json_error(str(exc), "params")
    except preview.PreviewBusy as busy:
        return json_error(
            _("Too many previews at once; try again in a moment."),
            status=503,
            retry_after=busy.retry_after,
        )
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Preview-Cache"] = "hit" if cached else "miss"
    return response


@api_view("GET")
def api_artwork(request: HttpRequest, pk: int) -> JsonResponse:
    artwork = (
        Artwork.objects.visible_to(request.user)
        .select_related("photo")
        .filter(pk=pk)
        .first()
    )
    if artwork is None:
        # Public artworks are readable by anyone; the rest needs a session.
        if not request.user.is_authenticated:
            return json_error(_("Sign in to see this artwork."), status=401)
        return json_error(_("No such artwork."), status=404)
    return JsonResponse(artwork_json(artwork))
