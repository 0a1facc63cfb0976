"""Pages and the JSON API. Thin: fetch with an access check, validate, call a
service, respond."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import processing
from gallery import progress, services
from gallery.forms import ArtworkRequestForm, SignUpForm
from gallery.models import Artwork

MEDIA_KINDS = {"original", "result", "thumbnail"}


def _get_artwork_for_user(request: HttpRequest, pk: int, *, allow_public: bool = False):
    """Return the artwork if the user owns it (or it is public and allowed).

    Everyone else gets a 404, never a 403, so ids reveal nothing.
    """
    visible = (
        Q(owner_id=request.user.pk) if request.user.is_authenticated else Q(pk__in=[])
    )
    if allow_public:
        visible |= Q(public=True, status=Artwork.Status.DONE)
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
        "error": artwork.error,
        "result_url": _media_url(artwork, "result"),
        "thumbnail_url": _media_url(artwork, "thumbnail"),
        "original_url": _media_url(artwork, "original"),
        "public": artwork.public,
        "created": artwork.created.isoformat(),
    }


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
    latest = Artwork.objects.filter(
        public=True, status=Artwork.Status.DONE
    ).select_related("owner")[:8]
    return render(
        request,
        "gallery/home.html",
        {"latest": latest, "styles": processing.STYLES.values()},
    )


@require_GET
def explore(request: HttpRequest) -> HttpResponse:
    artworks = Artwork.objects.filter(
        public=True, status=Artwork.Status.DONE
    ).select_related("owner")
    return render(
        request, "gallery/explore.html", {"page": _paginate(request, artworks)}
    )


@login_required
@require_GET
def my_gallery(request: HttpRequest) -> HttpResponse:
    artworks = Artwork.objects.filter(owner=request.user).select_related("photo")
    return render(
        request, "gallery/my_gallery.html", {"page": _paginate(request, artworks)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _too_large(request):
        messages.error(request, _("That file is too large."))
        return redirect("gallery:upload")
    form = ArtworkRequestForm(request.POST or None, request.FILES or None)
    status = 200
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
        else:
            if len(artworks) == 1:
                return redirect(artworks[0])
            messages.success(
                request,
                _("%(count)d artworks are on their way.") % {"count": len(artworks)},
            )
            return redirect("gallery:my_gallery")
    return render(
        request,
        "gallery/upload.html",
        {
            "form": form,
            "styles": processing.STYLES.values(),
            "max_upload_bytes": settings.STUDIO_MAX_UPLOAD_BYTES,
            "max_megapixels": settings.STUDIO_MAX_PIXELS // 1_000_000,
        },
        status=status,
    )


@require_GET
def artwork_detail(request: HttpRequest, pk: int) -> HttpResponse:
    artwork = _get_artwork_for_user(request, pk, allow_public=True)
    style = processing.STYLES.get(artwork.style)
    recipe = [
        (param.label, artwork.params.get(param.name, param.default))
        for param in (style.params if style else ())
    ]
    return render(
        request,
        "gallery/artwork_detail.html",
        {
            "artwork": artwork,
            "is_owner": artwork.owner_id == request.user.pk,
            "recipe": recipe,
            "status_url": reverse("gallery:api_artwork", args=[artwork.pk]),
        },
    )


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


@require_GET
def artwork_media(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    """Stream a stored file after the same access check as the artwork page."""
    if kind not in MEDIA_KINDS:
        raise Http404("No such file.")
    artwork = _get_artwork_for_user(request, pk, allow_public=True)
    field = artwork.photo.original if kind == "original" else getattr(artwork, kind)
    if not field:
        raise Http404("Not rendered yet.")
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    suffix = PurePosixPath(field.name).suffix.lower()
    content_type = mimetypes.types_map.get(
        suffix, "image/heic" if suffix == ".heic" else None
    )
    download = request.GET.get("download") == "1"
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
        login(request, user)
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
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "default": p.default,
                    "min": p.min,
                    "max": p.max,
                    "step": p.step,
                }
                for p in style.params
            ],
        }
        for style in processing.STYLES.values()
    ]
    return JsonResponse({"styles": styles})


@require_POST
def api_artworks(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return _json_error(_("Sign in to upload photos."), status=401)
    if _too_large(request):
        return _json_error(_("The file is too large."), "image", status=413)
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
        response = _json_error(refusal.message, "image", status=refusal.status)
        if refusal.retry_after is not None:
            response["Retry-After"] = str(refusal.retry_after)
        return response
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


@require_GET
def api_artwork(request: HttpRequest, pk: int) -> JsonResponse:
    if not request.user.is_authenticated:
        # Public artworks are readable by anyone; the rest needs a session.
        artwork = Artwork.objects.filter(
            pk=pk, public=True, status=Artwork.Status.DONE
        ).first()
        if artwork is None:
            return _json_error(_("Sign in to see this artwork."), status=401)
    else:
        try:
            artwork = _get_artwork_for_user(request, pk, allow_public=True)
        except Http404:
            return _json_error(_("No such artwork."), status=404)
    return JsonResponse(_artwork_json(artwork))
