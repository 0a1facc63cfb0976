"""The JSON API (DESIGN.md, "JSON API"), used by the pages' own scripts and
by automation: styles, uploads and remixes, an artwork's status, previews.

Operations are django-ninja functions: the signature and the response
models are what the OpenAPI schema is generated from (``api_schema``), and
answers are checked against those models. Inputs keep their Django forms
(``gallery.web.forms``), which own the detailed, translated messages;
refusals are ``{"error", "field"}`` with ``Retry-After`` where waiting helps.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Field, File, Form, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from pydantic import ConfigDict

import processing
from gallery import limits, preview
from gallery.models import Artwork
from gallery.pipeline.progress import artwork_progress
from gallery.web.api_auth import ANYONE, ErrorOut, members
from gallery.web.forms import ArtworkRequestForm, PhotoArtworkRequestForm, PreviewForm
from gallery.web.media import media_url
from gallery.web.refusals import json_error, refusal_json, upload_rate_limit

router = Router(tags=["artworks"])

#: Refusals every write may answer, documented once.
REFUSALS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}
CAPPED = {413: ErrorOut, 429: ErrorOut, 503: ErrorOut}
JPEG = {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}


class OpenOut(Schema):
    # Answers may carry fields added after this model was written; they pass
    # through unchanged (the model checks the fields it names).
    model_config = ConfigDict(extra="allow")


class ParamSpecOut(OpenOut):
    name: str
    type: str
    default: float | int | bool
    min: float | int | bool
    max: float | int | bool
    step: float | int | bool


class StyleOut(OpenOut):
    slug: str
    label: str
    description: str
    params: list[ParamSpecOut]


class StylesOut(Schema):
    styles: list[StyleOut]


class QueuedOut(Schema):
    id: int
    status: str
    url: str


class AcceptedOut(Schema):
    artworks: list[QueuedOut]


class ArtworkOut(OpenOut):
    id: int
    style: str
    params: dict
    engine_version: str
    status: str
    stage: str | None
    progress: int | float | None
    queue_position: int | None
    eta_seconds: int | float | None
    error: str
    result_url: str | None
    thumbnail_url: str | None
    original_url: str | None
    public: bool
    created: str
    media: str = Field(description='"image", "video" or "animation"')
    duration: float | None = Field(
        description="Seconds of a video or animation; null for photos"
    )
    frames: int | None = Field(
        description="Frames of a video or animation; null for photos"
    )
    animation_url: str | None = Field(
        description="An animation's result as an animated WebP; null otherwise"
    )


def artwork_json(artwork: Artwork, viewer) -> dict:
    """An artwork as ``GET /api/artworks/<id>/`` answers it to ``viewer``
    (the original, EXIF and all, is its owner's only)."""
    is_owner = viewer is not None and artwork.owner_id == viewer.pk
    state = artwork_progress(artwork)
    photo = artwork.photo
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
        "original_url": media_url(artwork, "original") if is_owner else None,
        "public": artwork.public,
        "created": artwork.created.isoformat(),
        "media": photo.media,
        "duration": photo.duration if photo.is_moving else None,
        "frames": photo.frames if photo.is_moving else None,
        "animation_url": media_url(artwork, "animation"),
    }


def accepted(artworks: list[Artwork]) -> dict:
    return {
        "artworks": [
            {
                "id": a.pk,
                "status": a.status,
                "url": reverse("gallery:api_artwork", args=[a.pk]),
            }
            for a in artworks
        ]
    }


@router.get(
    "/styles/",
    url_name="api_styles",
    response=StylesOut,
    auth=ANYONE,
    operation_id="listStyles",
    summary="The styles and their parameters",
    openapi_extra={"security": [{}]},
)
def api_styles(request: HttpRequest):
    return {"styles": [s.as_dict() for s in processing.STYLES.values()]}


@router.post(
    "/artworks/",
    url_name="api_artworks",
    response={202: AcceptedOut, **REFUSALS, **CAPPED},
    auth=members(gettext_lazy("Sign in to upload photos.")),
    operation_id="createArtworks",
    summary="Upload a photo (or remix one of yours) in one or more styles",
)
# Around the whole operation: every attempt counts, even one whose fields
# django-ninja refuses before the function runs.
@decorate_view(upload_rate_limit)
def api_artworks(
    request: HttpRequest,
    image: File[UploadedFile | None] = None,
    photo: Form[int | None] = None,
    style: Form[list[str]] = None,
    preset: Form[list[int]] = None,
    params: Form[str | None] = None,
):
    """``image`` (a file) or ``photo`` (the id of one of your photos), each
    ``style`` (repeatable) and each of your ``preset`` ids (repeatable) make
    one artwork; ``params`` is a JSON object: style slug -> {name: value}."""
    if "image" not in request.FILES and "photo" in request.POST:
        form = PhotoArtworkRequestForm(request.user, request.POST)
        source_field = "photo"
    else:
        form = ArtworkRequestForm(request.POST, request.FILES, owner=request.user)
        source_field = "image"
    if not form.is_valid():
        field, message = form.first_error()
        return json_error(message, field)
    try:
        artworks = form.save(request.user)
    except limits.UploadRefused as refusal:
        return refusal_json(refusal, source_field)
    return Status(202, accepted(artworks))


@router.post(
    "/preview/",
    url_name="api_preview",
    response={200: None, **REFUSALS, 429: ErrorOut},
    auth=members(gettext_lazy("Sign in to preview styles.")),
    operation_id="renderPreview",
    summary="A small preview of one style on your photo (image/jpeg)",
    openapi_extra={"responses": {200: {"description": "JPEG", **JPEG}}},
)
def api_preview(
    request: HttpRequest,
    image: File[UploadedFile | None] = None,
    photo: Form[int | None] = None,
    style: Form[str] = "",
    params: Form[str | None] = None,
) -> HttpResponse:
    """Render a small preview of the user's own photo, synchronously.

    ``photo`` (id of one of your photos) or ``image`` (a file, ideally
    already scaled down by the browser, at most about 4 MP), ``style``,
    ``params`` (JSON ``{name: value}``). Answers ``image/jpeg`` with a long
    side of at most 512 px.
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
    # Cached per user: a hit on a photo someone else previewed would tell
    # this user that they uploaded it.
    source_key = f"{request.user.pk}:{content_hash}"
    try:
        jpeg, cached = preview.render_preview(
            source_key,
            load,
            form.cleaned_data["style"],
            form.cleaned_data["params"],
            full_size=form.full_size(),
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


@router.get(
    "/artworks/{int:pk}/",
    url_name="api_artwork",
    response={200: ArtworkOut, 401: ErrorOut, 404: ErrorOut},
    auth=ANYONE,
    operation_id="getArtwork",
    summary="An artwork's recipe, status and progress (yours, or a public one)",
    openapi_extra={"security": [{}]},
)
def api_artwork(request: HttpRequest, pk: int):
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
    return artwork_json(artwork, request.user)
