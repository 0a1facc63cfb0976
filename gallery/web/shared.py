"""Share links as people meet them: the owner's buttons on the artwork page
and the shared page itself, which opens without signing in.

The shared page shows the result, the recipe and the owner's display name,
never the original. It carries Open Graph and Twitter card tags whose image
is a signed, short-lived thumbnail URL (``gallery.web.media.shared_media``),
so chat apps can show a preview without a session, and ``noindex`` in both
the page and the response headers: a link is for the people it was given
to, not for search engines.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from gallery import sharing
from gallery.models import Artwork, ShareLink, pk_from
from gallery.templatetags.studio import author_name, recipe_rows, style_label

NOINDEX = "noindex, nofollow, noarchive"
#: The expiry choices on the artwork page (the API takes any 1-365).
EXPIRY_CHOICES = (1, 7, 30, 90, 365)


def share_url(request: HttpRequest, link: ShareLink) -> str:
    """The absolute address of a share link."""
    return request.build_absolute_uri(
        reverse("gallery:shared_artwork", args=[link.token])
    )


def shared_media_url(request: HttpRequest, link: ShareLink, kind: str) -> str:
    signed = sharing.media_signature(link, kind)
    return request.build_absolute_uri(reverse("gallery:shared_media", args=[signed]))


@require_GET
def shared_artwork(request: HttpRequest, token: str) -> HttpResponse:
    link = sharing.shared_link(token)
    if link is None:
        raise Http404("No such link.")
    artwork = link.artwork
    title = _("%(style)s by %(author)s") % {
        "style": style_label(artwork.style),
        "author": author_name(artwork.owner),
    }
    response = render(
        request,
        "gallery/shared_artwork.html",
        {
            "artwork": artwork,
            "link": link,
            "title": title,
            "author": author_name(artwork.owner),
            "recipe": recipe_rows(artwork),
            "page_url": share_url(request, link),
            "result_url": shared_media_url(request, link, "result"),
            "thumbnail_url": shared_media_url(request, link, "thumbnail"),
        },
    )
    response["X-Robots-Tag"] = NOINDEX
    # A revoked link must not live on in a shared cache.
    response["Cache-Control"] = "private, no-cache"
    return response


def owner_share_context(request: HttpRequest, artwork: Artwork) -> dict:
    """The share section of the owner's artwork page: working links with
    their addresses, and the expiry choices."""
    return {
        "share_links": [
            {"link": link, "url": share_url(request, link)}
            for link in sharing.working_links(artwork)
        ],
        "share_expiry_choices": EXPIRY_CHOICES,
        "share_default_days": sharing.DEFAULT_DAYS,
    }


def _own_artwork(request: HttpRequest, pk: int) -> Artwork:
    return get_object_or_404(Artwork, owner_id=request.user.pk, pk=pk)


@login_required
@require_POST
def artwork_share(request: HttpRequest, pk: int) -> HttpResponse:
    """The artwork page's "Create a share link" button."""
    artwork = _own_artwork(request, pk)
    raw = request.POST.get("expires_in_days", "")
    days = pk_from(raw) if len(raw) < 4 else None
    days = days or sharing.DEFAULT_DAYS
    try:
        sharing.share_create(artwork, days)
    except sharing.ShareRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("A new share link is ready: copy it below."))
    return redirect(artwork.get_absolute_url() + "#share")


@login_required
@require_POST
def artwork_unshare(request: HttpRequest, pk: int) -> HttpResponse:
    """The artwork page's "Revoke all links" button."""
    artwork = _own_artwork(request, pk)
    count = sharing.share_revoke_all(artwork)
    if count:
        messages.success(
            request, _("Every share link of this artwork stopped working.")
        )
    return redirect(artwork.get_absolute_url() + "#share")
