"""Pages and the JSON API. Thin: fetch with an access check, validate, call a
service, respond."""

from __future__ import annotations

import io
import mimetypes
from pathlib import PurePosixPath
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import processing
from artstudio_site.ratelimit import upload_rate_limit
from gallery import preview, progress, quotas, services
from gallery.forms import (
    ACCEPTED_TYPES,
    ArtworkRequestForm,
    PhotoArtworkRequestForm,
    PreviewForm,
    ReportForm,
    SignUpForm,
)
from gallery.models import Artwork

MEDIA_KINDS = {"original", "result", "thumbnail"}
# format -> (file suffix, content type); mimetypes lacks .webp on some systems.
DOWNLOAD_FORMATS = {
    "jpeg": (".jpg", "image/jpeg"),
    "png": (".png", "image/png"),
    "webp": (".webp", "image/webp"),
}
GALLERY_SORTS = {"newest": ("-created", "-id"), "oldest": ("created", "id")}
# Stored suffix -> content type (names are generated: see models._generated_name).
STORED_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".heic": "image/heic",
}


def _stored_content_type(suffix: str) -> str:
    return STORED_TYPES.get(suffix) or mimetypes.types_map.get(
        suffix, "application/octet-stream"
    )


def _public_artworks():
    """Artworks anyone may see: public, finished, not hidden by a moderator."""
    return Artwork.objects.filter(public=True, status=Artwork.Status.DONE).exclude(
        moderation=Artwork.Moderation.HIDDEN
    )


def _get_artwork_for_user(request: HttpRequest, pk: int, *, allow_public: bool = False):
    """Return the artwork if the user owns it (or it is public and allowed).

    Everyone else gets a 404, never a 403, so ids reveal nothing.
    """
    visible = (
        Q(owner_id=request.user.pk) if request.user.is_authenticated else Q(pk__in=[])
    )
    if allow_public:
        # A hidden artwork stays visible to its owner only (with a notice).
        visible |= Q(public=True, status=Artwork.Status.DONE) & ~Q(
            moderation=Artwork.Moderation.HIDDEN
        )
    artwork = (
        Artwork.objects.select_related("photo", "owner").filter(visible, pk=pk).first()
    )
    if artwork is None:
        raise Http404("No such artwork.")
    return artwork


def _paginate(request: HttpRequest, queryset):
    paginator = Paginator(queryset, settings.STUDIO_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def _media_url(artwork: Artwork, kind: str, *, download: bool = False) -> str | None:
    field = artwork.photo.original if kind == "original" else getattr(artwork, kind)
    if not field:
        return None
    url = reverse("gallery:artwork_media", args=[artwork.pk, kind])
    return f"{url}?download=1" if download else url


def _artwork_json(artwork: Artwork) -> dict:
    state = progress.artwork_progress(artwork)
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
        "result_url": _media_url(artwork, "result"),
        "thumbnail_url": _media_url(artwork, "thumbnail"),
        "original_url": _media_url(artwork, "original"),
        "public": artwork.public,
        "created": artwork.created.isoformat(),
    }


def _refusal_json(refusal: services.UploadRefused, field: str) -> JsonResponse:
    """A quota or backpressure refusal as the API answers it."""
    response = _json_error(refusal.message, field, status=refusal.status)
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _json_error(message: str, field: str = "", status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=status)


def _too_large(request: HttpRequest) -> bool:
    # Checked before the body is read: a declared size far above the cap is
    # refused at once instead of being spooled to disk first.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.STUDIO_MAX_UPLOAD_BYTES + 64 * 1024


# Pages -----------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    latest = _public_artworks().select_related("owner", "owner__studio_profile")[:8]
    return render(
        request,
        "gallery/home.html",
        {"latest": latest, "styles": processing.STYLES.values()},
    )


@require_GET
def explore(request: HttpRequest) -> HttpResponse:
    artworks = _public_artworks().select_related("owner", "owner__studio_profile")
    return render(
        request, "gallery/explore.html", {"page": _paginate(request, artworks)}
    )


@login_required
@require_GET
def my_gallery(request: HttpRequest) -> HttpResponse:
    # Unknown filter values are ignored (the filter shows "all"), so an old
    # bookmark never breaks the page.
    style = request.GET.get("style", "")
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "newest")
    style = style if style in processing.STYLES else ""
    status = status if status in Artwork.Status.values else ""
    sort = sort if sort in GALLERY_SORTS else "newest"
    artworks = Artwork.objects.filter(owner=request.user).select_related("photo")
    if style:
        artworks = artworks.filter(style=style)
    if status:
        artworks = artworks.filter(status=status)
    artworks = artworks.order_by(*GALLERY_SORTS[sort])
    query = {k: v for k, v in (("style", style), ("status", status)) if v}
    if sort != "newest":
        query["sort"] = sort
    return render(
        request,
        "gallery/my_gallery.html",
        {
            "page": _paginate(request, artworks),
            "styles": processing.STYLES.values(),
            "statuses": Artwork.Status.choices,
            "current": {"style": style, "status": status, "sort": sort},
            "filter_query": urlencode(query),
            "stage_labels": _stage_labels(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@upload_rate_limit
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _too_large(request):
        messages.error(request, _("That file is too large."))
        return redirect("gallery:upload")
    form = ArtworkRequestForm(request.POST or None, request.FILES or None)
    status = 200
    retry_after = None
    if request.method == "POST" and form.is_valid():
        try:
            artworks = services.artworks_create(
                request.user,
                form.cleaned_data["image"],
                form.image_info,
                form.cleaned_data["recipes"],
            )
        except services.UploadRefused as refusal:
            form.add_error(None, refusal.message)
            status = refusal.status
            retry_after = refusal.retry_after
        else:
            if len(artworks) == 1:
                return redirect(artworks[0])
            messages.success(
                request,
                _("%(count)d artworks are on their way.") % {"count": len(artworks)},
            )
            return redirect("gallery:my_gallery")
    remix = _remix_source(request)
    response = render(
        request,
        "gallery/upload.html",
        {
            "form": form,
            "styles": processing.STYLES.values(),
            "max_upload_bytes": settings.STUDIO_MAX_UPLOAD_BYTES,
            "max_megapixels": settings.STUDIO_MAX_PIXELS // 1_000_000,
            "remix": remix,
            "style_panels": _style_panels(form, remix),
            "editor": _editor_config(remix),
            "quota": _quota_for(request.user),
        },
        status=status,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _remix_source(request: HttpRequest) -> Artwork | None:
    """The artwork named by ``?remix=<id>`` when it is the user's own."""
    raw = request.GET.get("remix", "")
    if not raw.isdigit():
        return None
    return (
        Artwork.objects.select_related("photo")
        .filter(pk=int(raw), owner_id=request.user.pk)
        .first()
    )


def _style_panels(form: ArtworkRequestForm, remix: Artwork | None) -> list[dict]:
    """One card and slider panel per style, with the values to show.

    Values come from the posted form (after an error), else the remixed
    artwork's recipe, else the registry defaults.
    """
    posted = form.data if form.is_bound else {}
    chosen = set(posted.getlist("style")) if form.is_bound else set()
    if remix and not form.is_bound:
        chosen = {remix.style}
    panels = []
    for style in processing.STYLES.values():
        initial = remix.params if remix and remix.style == style.slug else {}
        params = []
        for p in style.params:
            value = posted.get(
                f"param:{style.slug}:{p.name}", initial.get(p.name, p.default)
            )
            params.append(
                {
                    "name": p.name,
                    "label": _(p.label),
                    "help": _(p.help) if p.help else "",
                    "min": p.min,
                    "max": p.max,
                    "step": p.step,
                    "default": p.default,
                    "value": value,
                    "field": f"param:{style.slug}:{p.name}",
                    "id": f"param-{style.slug}-{p.name}",
                }
            )
        panels.append(
            {
                "slug": style.slug,
                "label": _(style.label),
                "description": _(style.description),
                "checked": style.slug in chosen,
                "params": params,
            }
        )
    return panels


def _quota_for(user):
    return quotas.usage_for(user)


def _stage_labels() -> dict[str, str]:
    """Translated names of statuses and job stages, for the pages' scripts."""
    return {
        "queued": _("Waiting in the queue"),
        "waiting": _("Waiting for a worker"),
        "processing": _("Processing"),
        "decoding": _("Reading the photo"),
        "rendering": _("Painting"),
        "encoding": _("Saving"),
        "thumbnail": _("Making the thumbnail"),
        "done": _("Done"),
        "failed": _("Failed"),
        "queue_position": _("Position in queue: %(n)s"),
        "eta": _("About %(n)s s left"),
    }


def _param_specs(style: processing.Style) -> list[dict]:
    """A style's parameter spec as the API and the editor script read it."""
    return [
        {
            "name": p.name,
            "type": p.type,
            "default": p.default,
            "min": p.min,
            "max": p.max,
            "step": p.step,
        }
        for p in style.params
    ]


def _editor_config(remix: Artwork | None) -> dict:
    """Everything the upload editor script needs, as one JSON document."""
    styles = [
        {
            "slug": style.slug,
            "label": _(style.label),
            "params": _param_specs(style),
        }
        for style in processing.STYLES.values()
    ]
    return {
        "styles": styles,
        "maxBytes": settings.STUDIO_MAX_UPLOAD_BYTES,
        "types": ACCEPTED_TYPES.split(","),
        "urls": {
            "artworks": reverse("gallery:api_artworks"),
            "preview": reverse("gallery:api_preview"),
            "gallery": reverse("gallery:my_gallery"),
            # "/artworks/0/": the scripts put the real id in place of the 0.
            "artworkPage": reverse("gallery:artwork_detail", args=[0]),
            "artworkRetry": reverse("gallery:artwork_retry", args=[0]),
        },
        "remix": (
            {
                "photo": remix.photo_id,
                "style": remix.style,
                "params": remix.params,
            }
            if remix
            else None
        ),
        "stages": _stage_labels(),
        "text": {
            "tooLarge": _("%(name)s is too large (%(size)s); the limit is %(limit)s."),
            "badType": _("%(name)s is not a supported image type."),
            "noPhoto": _("Choose at least one photo."),
            "noStyle": _("Choose at least one style."),
            "uploading": _("Uploading %(name)s…"),
            "uploaded": _("%(name)s uploaded."),
            "failedUpload": _("%(name)s could not be uploaded: %(error)s"),
            "network": _("The network connection failed."),
            "retry": _("Retry"),
            "open": _("Open"),
            "previewFailed": _("The preview could not be rendered."),
            "previewBusy": _("Too many previews; waiting %(n)s s."),
            "allDone": _("All artworks are finished."),
            "summary": _("%(photos)s photos × %(styles)s styles = %(total)s artworks"),
            "remove": _("Remove"),
            "removeNamed": _("Remove %(name)s"),
            "previewLoading": _("Rendering the preview…"),
        },
    }


@require_GET
def artwork_detail(request: HttpRequest, pk: int) -> HttpResponse:
    artwork = _get_artwork_for_user(request, pk, allow_public=True)
    style = processing.STYLES.get(artwork.style)
    recipe = [
        (_(param.label), artwork.params.get(param.name, param.default))
        for param in (style.params if style else ())
    ]
    is_owner = artwork.owner_id == request.user.pk
    media = reverse("gallery:artwork_media", args=[artwork.pk, "result"])
    return render(
        request,
        "gallery/artwork_detail.html",
        {
            "artwork": artwork,
            "is_owner": is_owner,
            "recipe": recipe,
            "status_url": reverse("gallery:api_artwork", args=[artwork.pk]),
            "downloads": [
                (label, f"{media}?download=1&format={fmt}")
                for fmt, label in (("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WebP"))
            ],
            "remix_url": (
                f"{reverse('gallery:upload')}?remix={artwork.pk}" if is_owner else ""
            ),
            "report_url": (
                _report_url(artwork)
                if artwork.public and not is_owner and request.user.is_authenticated
                else ""
            ),
            "stage_labels": _stage_labels(),
        },
    )


def _report_url(artwork: Artwork) -> str:
    # The report view is added by the moderation work; until it exists the
    # page shows no report button rather than a broken one.
    try:
        return reverse("gallery:artwork_report", args=[artwork.pk])
    except NoReverseMatch:
        return ""


@login_required
@require_POST
def artwork_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a failed artwork again (the retry button)."""
    artwork = _get_artwork_for_user(request, pk)
    retried = services.artwork_retry(artwork)
    if "application/json" in request.headers.get("Accept", ""):
        if not retried:
            return _json_error(_("Only a failed artwork can be retried."), status=409)
        return JsonResponse(_artwork_json(artwork), status=202)
    if retried:
        messages.success(request, _("The artwork is queued again."))
    else:
        messages.error(request, _("Only a failed artwork can be retried."))
    return redirect(artwork)


@require_POST
def artwork_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Report someone else's public artwork to the moderators."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not request.user.is_authenticated:
        if wants_json:
            return _json_error(_("Sign in to report an artwork."), status=401)
        return redirect_to_login(reverse("gallery:artwork_detail", args=[pk]))
    # Only what others can see can be reported: hidden or private is a 404.
    artwork = _public_artworks().filter(pk=pk).first()
    if artwork is None:
        if wants_json:
            return _json_error(_("No such artwork."), status=404)
        raise Http404("No such artwork.")
    form = ReportForm(request.POST)
    error = ""
    if not form.is_valid():
        error = form.first_error()[1]
    else:
        try:
            services.artwork_report(artwork, request.user, form.cleaned_data["reason"])
        except services.ReportRefused as refusal:
            error = str(refusal)
    if wants_json:
        if error:
            return _json_error(error, "reason")
        return JsonResponse({"reported": True})
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request, _("Thank you. A moderator will look at this artwork.")
        )
    return redirect(artwork)


@login_required
@require_POST
def artwork_visibility(request: HttpRequest, pk: int) -> HttpResponse:
    artwork = _get_artwork_for_user(request, pk)
    public = request.POST.get("public") == "1"
    services.artwork_set_public(artwork, public)
    messages.success(
        request,
        _("The artwork is now public.") if public else _("The artwork is now private."),
    )
    return redirect(artwork)


@login_required
@require_POST
def artwork_delete(request: HttpRequest, pk: int) -> HttpResponse:
    artwork = _get_artwork_for_user(request, pk)
    services.artwork_delete(artwork)
    messages.success(request, _("The artwork was deleted."))
    return redirect("gallery:my_gallery")


def _converted_result(handle, fmt: str):
    """The full-size result re-encoded in ``fmt`` (JPEG is served as stored)."""
    if fmt == "jpeg":
        return handle
    with handle:
        data = handle.read()
    # The result was rendered from at most STUDIO_WORK_PIXELS, so decoding it
    # with that budget never shrinks it.
    image = processing.decode(
        data,
        max_pixels=settings.STUDIO_MAX_PIXELS,
        work_pixels=settings.STUDIO_MAX_PIXELS,
    )
    return io.BytesIO(processing.encode(image, fmt, settings.STUDIO_RESULT_QUALITY))


def _signed_media_redirect(
    artwork: Artwork, kind: str, field, *, download: bool
) -> HttpResponse:
    """Send the (already access-checked) viewer to a short-lived signed URL.

    The bucket is private; the URL expires after STUDIO_S3_URL_EXPIRY seconds
    and the signature covers the response headers set here, so it cannot be
    edited into serving something else.
    """
    suffix = PurePosixPath(field.name).suffix.lower()
    content_type = _stored_content_type(suffix)
    label = artwork.style if kind != "original" else "original"
    disposition = "attachment" if download else "inline"
    url = field.storage.url(
        field.name,
        parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": (
                f'{disposition}; filename="artwork-{artwork.pk}-{label}{suffix}"'
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
    """Stream a stored file after the same access check as the artwork page.

    ``?format=jpeg|png|webp`` on a result converts it at full size for
    download.
    """
    if kind not in MEDIA_KINDS:
        raise Http404("No such file.")
    fmt = request.GET.get("format", "")
    if fmt and (kind != "result" or fmt not in DOWNLOAD_FORMATS):
        return _json_error(
            _("format must be one of jpeg, png, webp (results only)."), "format"
        )
    # The original is the owner's upload as sent, EXIF and GPS included: only
    # the re-encoded result and thumbnail of a public artwork are public.
    artwork = _get_artwork_for_user(request, pk, allow_public=kind != "original")
    field = artwork.photo.original if kind == "original" else getattr(artwork, kind)
    if not field:
        raise Http404("Not rendered yet.")
    if settings.STUDIO_STORAGE == "s3" and not request.GET.get("format"):
        return _signed_media_redirect(
            artwork, kind, field, download=request.GET.get("download") == "1"
        )
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    suffix = PurePosixPath(field.name).suffix.lower()
    content_type = _stored_content_type(suffix)
    download = request.GET.get("download") == "1"
    fmt = request.GET.get("format", "")
    if fmt and kind == "result":
        handle = _converted_result(handle, fmt)
        suffix, content_type = DOWNLOAD_FORMATS[fmt]
    filename = f"artwork-{artwork.pk}-{artwork.style if kind != 'original' else 'original'}{suffix}"
    response = FileResponse(
        handle,
        content_type=content_type or "application/octet-stream",
        as_attachment=download,
        filename=filename,
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("gallery:my_gallery")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # Two backends are configured (django-axes first); name the real one.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, _("Welcome! Upload a photo to make your first artwork.")
        )
        return redirect("gallery:upload")
    return render(request, "registration/signup.html", {"form": form})


# JSON API --------------------------------------------------------------------


@require_GET
def api_styles(request: HttpRequest) -> JsonResponse:
    styles = [
        {
            "slug": style.slug,
            "label": style.label,
            "description": style.description,
            "params": _param_specs(style),
        }
        for style in processing.STYLES.values()
    ]
    return JsonResponse({"styles": styles})


@require_POST
@upload_rate_limit
def api_artworks(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return _json_error(_("Sign in to upload photos."), status=401)
    if _too_large(request):
        return _json_error(_("The file is too large."), "image", status=413)
    if "image" not in request.FILES and "photo" in request.POST:
        return _api_artworks_from_photo(request)
    form = ArtworkRequestForm(request.POST, request.FILES)
    if not form.is_valid():
        field, message = form.first_error()
        return _json_error(message, field)
    try:
        artworks = services.artworks_create(
            request.user,
            form.cleaned_data["image"],
            form.image_info,
            form.cleaned_data["recipes"],
        )
    except services.UploadRefused as refusal:
        return _refusal_json(refusal, "image")
    return _accepted(artworks)


def _accepted(artworks) -> JsonResponse:
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


def _api_artworks_from_photo(request: HttpRequest) -> JsonResponse:
    """``POST /api/artworks/`` with ``photo=<id>``: new styles of a stored photo."""
    form = PhotoArtworkRequestForm(request.user, request.POST)
    if not form.is_valid():
        field, message = form.first_error()
        return _json_error(message, field)
    try:
        artworks = services.artworks_create_from_photo(
            request.user, form.cleaned_data["photo"], form.cleaned_data["recipes"]
        )
    except services.UploadRefused as refusal:
        return _refusal_json(refusal, "photo")
    return _accepted(artworks)


@require_POST
def api_preview(request: HttpRequest) -> HttpResponse:
    """Render a small preview of the user's own photo, synchronously.

    multipart: ``photo`` (id of one of your photos) or ``image`` (a file,
    ideally already scaled down by the browser), ``style``, ``params`` (JSON
    ``{name: value}``). Answers ``image/jpeg`` with a long side of at most
    512 px; 400 with ``{"error", "field"}``; 429 with ``Retry-After``.
    """
    if not request.user.is_authenticated:
        return _json_error(_("Sign in to preview styles."), status=401)
    if _too_large(request):
        return _json_error(_("The file is too large."), "image", status=413)
    form = PreviewForm(request.user, request.POST, request.FILES)
    if not form.is_valid():
        field, message = form.first_error()
        return _json_error(message, field)
    try:
        preview.check_rate(request.user.pk)
    except preview.RateLimited as limited:
        response = _json_error(
            _("Too many previews at once; try again in a moment."), status=429
        )
        response["Retry-After"] = str(limited.retry_after)
        return response
    content_hash, load = form.source()
    try:
        jpeg, cached = preview.render_preview(
            content_hash, load, form.cleaned_data["style"], form.cleaned_data["params"]
        )
    except processing.InvalidImage as exc:
        return _json_error(str(exc), "image")
    except ValueError as exc:
        return _json_error(str(exc), "params")
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Preview-Cache"] = "hit" if cached else "miss"
    return response


@require_GET
def style_sample(request: HttpRequest, slug: str) -> HttpResponse:
    """The sample image of a style, rendered by our engine at first use."""
    if slug not in processing.STYLES:
        raise Http404("No such style.")
    response = HttpResponse(preview.style_sample(slug), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def api_artwork(request: HttpRequest, pk: int) -> JsonResponse:
    if not request.user.is_authenticated:
        # Public artworks are readable by anyone; the rest needs a session.
        artwork = _public_artworks().filter(pk=pk).first()
        if artwork is None:
            return _json_error(_("Sign in to see this artwork."), status=401)
    else:
        try:
            artwork = _get_artwork_for_user(request, pk, allow_public=True)
        except Http404:
            return _json_error(_("No such artwork."), status=404)
    return JsonResponse(_artwork_json(artwork))
