"""Share links: an unguessable URL that shows one done artwork to anyone.

A link opens while it has not expired, its artwork exists, is done and is
not hidden by a moderator; every check is made on each request, so a
revoke, a delete or a moderator's hide ends the link at once. The shared
page's images are served through signed, short-lived media URLs
(:func:`media_signature`), so link previews (Open Graph, Twitter cards) can
fetch the thumbnail without a session, and a copied image URL stops working
soon after it was given out.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery.models import Artwork, ShareLink

DEFAULT_DAYS = 30
MIN_DAYS = 1
MAX_DAYS = 365
#: Links of one artwork that may be working at once (each POST makes one).
MAX_LINKS_PER_ARTWORK = 50
#: How long a signed media URL of a shared page works.
MEDIA_URL_SECONDS = 24 * 3600
_MEDIA_SALT = "gallery.sharing.media"
#: The files a share link shows. Never the original: it keeps EXIF and GPS.
SHARED_KINDS = ("result", "thumbnail")
# What secrets.token_urlsafe makes; anything else is not looked up at all.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class ShareRefused(Exception):
    """A link that cannot be made; ``message`` is fit for users."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def share_create(artwork: Artwork, days: int = DEFAULT_DAYS) -> ShareLink:
    """A new link to ``artwork`` (a done artwork of the caller's) that works
    for ``days`` days; expired links of the artwork are pruned on the way."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ShareRefused(
            _("A link lasts between %(min)d and %(max)d days.")
            % {"min": MIN_DAYS, "max": MAX_DAYS},
            "expires_in_days",
        )
    if artwork.status != Artwork.Status.DONE:
        raise ShareRefused(_("Only a finished artwork can be shared."))
    if artwork.moderation == Artwork.Moderation.HIDDEN:
        raise ShareRefused(_("This artwork was hidden by a moderator."))
    now = timezone.now()
    with transaction.atomic():
        ShareLink.objects.filter(artwork=artwork, expires__lte=now).delete()
        if ShareLink.objects.filter(artwork=artwork).count() >= MAX_LINKS_PER_ARTWORK:
            raise ShareRefused(
                _("This artwork has %(max)d links already; revoke them first.")
                % {"max": MAX_LINKS_PER_ARTWORK}
            )
        return ShareLink.objects.create(
            artwork=artwork,
            token=secrets.token_urlsafe(24),
            expires=now + timedelta(days=days),
        )


def share_revoke_all(artwork: Artwork) -> int:
    """End every link of the artwork; return how many there were."""
    deleted, _by_model = ShareLink.objects.filter(artwork=artwork).delete()
    return deleted


def working_links(artwork: Artwork):
    """The artwork's links that have not expired, newest first."""
    return ShareLink.objects.filter(artwork=artwork, expires__gt=timezone.now())


def shared_link(token: str) -> ShareLink | None:
    """The working link with this token (artwork, photo and owner loaded),
    or None: unknown, expired, or its artwork not done or hidden."""
    if not _TOKEN_SHAPE.fullmatch(token or ""):
        return None
    link = (
        ShareLink.objects.select_related(
            "artwork__photo", "artwork__owner__studio_profile"
        )
        .filter(token=token, expires__gt=timezone.now())
        .first()
    )
    if link is None:
        return None
    artwork = link.artwork
    if (
        artwork.status != Artwork.Status.DONE
        or artwork.moderation == Artwork.Moderation.HIDDEN
    ):
        return None
    return link


def media_signature(link: ShareLink, kind: str) -> str:
    """A signed, timestamped value naming one file of a shared artwork."""
    if kind not in SHARED_KINDS:
        raise ValueError(f"a share link never shows the {kind}")
    return signing.TimestampSigner(salt=_MEDIA_SALT).sign(f"{link.pk}.{kind}")


def link_for_media_signature(value: str) -> tuple[ShareLink, str] | None:
    """(working link, kind) for a signature made in the last
    ``MEDIA_URL_SECONDS``, or None (forged, too old, or the link no longer
    works)."""
    try:
        payload = signing.TimestampSigner(salt=_MEDIA_SALT).unsign(
            value, max_age=MEDIA_URL_SECONDS
        )
    except signing.BadSignature:
        return None
    link_id, _dot, kind = payload.partition(".")
    if kind not in SHARED_KINDS or not link_id.isdigit():
        return None
    token = ShareLink.objects.filter(pk=int(link_id)).values_list("token", flat=True)
    link = shared_link(token.first() or "")
    return (link, kind) if link is not None else None
