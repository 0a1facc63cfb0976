"""HTML pages. Thin: fetch with an access check, validate with a form, call a
service, respond."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import processing
from gallery import limits, services
from gallery.models import Artwork, pk_from
from gallery.templatetags.studio import recipe_rows
from gallery.web import editor, shared
from gallery.web.api import artwork_json
from gallery.web.forms import ArtworkRequestForm, ReportForm, SignUpForm
from gallery.web.media import DOWNLOAD_FORMATS
from gallery.web.refusals import json_error, refused, upload_rate_limit, wants_json
from processing import formats

GALLERY_SORTS = {"newest": ("-created", "-id"), "oldest": ("created", "id")}


def _paginate(request: HttpRequest, queryset):
    paginator = Paginator(queryset, settings.STUDIO_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    latest = Artwork.objects.public().select_related(
        "owner", "owner__studio_profile", "photo"
    )
    return render(
        request,
        "gallery/home.html",
        {"latest": latest[:8], "styles": processing.STYLES.values()},
    )


@require_GET
def explore(request: HttpRequest) -> HttpResponse:
    artworks = Artwork.objects.public().select_related(
        "owner", "owner__studio_profile", "photo"
    )
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
            "stage_labels": editor.stage_labels(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@upload_rate_limit
def upload(request: HttpRequest) -> HttpResponse:
    form = ArtworkRequestForm(
        request.POST or None, request.FILES or None, owner=request.user
    )
    status = 200
    retry_after = None
    if request.method == "POST" and form.is_valid():
        try:
            artworks = form.save(request.user)
        except limits.UploadRefused as refusal:
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
    linked, link_error = editor.linked_recipe(request.GET)
    response = render(
        request,
        "gallery/upload.html",
        {
            "form": form,
            "styles": processing.STYLES.values(),
            "max_upload_bytes": settings.STUDIO_MAX_UPLOAD_BYTES,
            "max_megapixels": settings.STUDIO_MAX_PIXELS // 1_000_000,
            "accepted_formats": formats.decodable_labels(),
            "video_formats": ", ".join(
                f.label for f in formats.MOVING if f.moving == "video"
            ),
            "max_video_bytes": settings.STUDIO_MAX_VIDEO_BYTES,
            "max_video_seconds": settings.STUDIO_MAX_VIDEO_SECONDS,
            "max_video_megapixels": round(settings.STUDIO_MAX_VIDEO_PIXELS / 1e6, 1),
            "remix": remix,
            "style_panels": editor.style_panels(
                form.data if form.is_bound else None, remix, linked
            ),
            "linked": linked,
            "link_name": request.GET.get("name", "")[:80] if linked else "",
            "link_error": link_error,
            "editor": editor.editor_config(request.user),
            "quota": limits.usage_for(request.user),
        },
        status=status,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _remix_source(request: HttpRequest) -> Artwork | None:
    """The artwork named by ``?remix=<id>`` when it is the user's own."""
    pk = pk_from(request.GET.get("remix", ""))
    if pk is None:
        return None
    return (
        Artwork.objects.select_related("photo")
        .filter(pk=pk, owner_id=request.user.pk)
        .first()
    )


def _get_artwork_for_user(request: HttpRequest, pk: int, *, allow_public=False):
    """The artwork if the user owns it (or, with ``allow_public``, anyone may
    see it); everyone else gets a 404, never a 403, so ids reveal nothing."""
    artworks = (
        Artwork.objects.visible_to(request.user)
        if allow_public
        else Artwork.objects.filter(owner_id=request.user.pk)
    )
    return get_object_or_404(artworks.select_related("photo", "owner"), pk=pk)


@require_GET
def artwork_detail(request: HttpRequest, pk: int) -> HttpResponse:
    artwork = _get_artwork_for_user(request, pk, allow_public=True)
    recipe = recipe_rows(artwork)
    is_owner = artwork.owner_id == request.user.pk
    media = reverse("gallery:artwork_media", args=[artwork.pk, "result"])
    can_report = artwork.public and not is_owner and request.user.is_authenticated
    return render(
        request,
        "gallery/artwork_detail.html",
        {
            "artwork": artwork,
            "is_owner": is_owner,
            "recipe": recipe,
            "status_url": reverse("gallery:api_artwork", args=[artwork.pk]),
            "downloads": [
                (fmt.label, f"{media}?download=1&format={fmt.slug}")
                for fmt in DOWNLOAD_FORMATS.values()
            ],
            "remix_url": (
                f"{reverse('gallery:upload')}?remix={artwork.pk}" if is_owner else ""
            ),
            "report_url": (
                reverse("gallery:artwork_report", args=[artwork.pk])
                if can_report
                else ""
            ),
            "stage_labels": editor.stage_labels(),
            **(shared.owner_share_context(request, artwork) if is_owner else {}),
        },
    )


@login_required
@require_POST
def artwork_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a failed artwork again (the retry button)."""
    artwork = _get_artwork_for_user(request, pk)
    retry_after = limits.hit("retry", request.user.pk, settings.STUDIO_RETRY_RATE)
    if retry_after is not None:
        message = _("Too many retries. Please wait %(seconds)d seconds.") % {
            "seconds": retry_after
        }
        return refused(request, message, status=429, retry_after=retry_after)
    try:
        retried = services.artwork_retry(artwork)
    except limits.UploadRefused as refusal:
        if wants_json(request):
            return json_error(refusal.message, status=refusal.status)
        messages.error(request, refusal.message)
        return redirect(artwork)
    if wants_json(request):
        if not retried:
            return json_error(_("Only a failed artwork can be retried."), status=409)
        return JsonResponse(artwork_json(artwork, request.user), status=202)
    if retried:
        messages.success(request, _("The artwork is queued again."))
    else:
        messages.error(request, _("Only a failed artwork can be retried."))
    return redirect(artwork)


@require_POST
def artwork_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Report someone else's public artwork to the moderators."""
    as_json = wants_json(request)
    if not request.user.is_authenticated:
        if as_json:
            return json_error(_("Sign in to report an artwork."), status=401)
        return redirect_to_login(reverse("gallery:artwork_detail", args=[pk]))
    # Only what others can see can be reported: hidden or private is a 404.
    artwork = Artwork.objects.public().filter(pk=pk).first()
    if artwork is None:
        if as_json:
            return json_error(_("No such artwork."), status=404)
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
    if as_json:
        if error:
            return json_error(error, "reason")
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


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("gallery:my_gallery")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Accounts per address and hour: a farm of free accounts would
        # multiply every per-user cap (queue places, quotas, rate limits).
        retry_after = limits.hit(
            "signup", request.client_ip, settings.STUDIO_SIGNUP_RATE, window=3600
        )
        if retry_after is not None:
            message = _(
                "Too many accounts were created from your network. Please try "
                "again in %(minutes)d minutes."
            ) % {"minutes": max(1, retry_after // 60)}
            return refused(request, message, status=429, retry_after=retry_after)
        user = form.save()
        # Two backends are configured (django-axes first); name the real one.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, _("Welcome! Upload a photo to make your first artwork.")
        )
        return redirect("gallery:upload")
    return render(request, "registration/signup.html", {"form": form})
