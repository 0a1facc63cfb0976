"""Per-user storage quotas: how many photos, and how many bytes in all.

Bytes count what the user's rows hold in storage: originals plus every
artwork's result and thumbnail (as recorded on the rows, so no storage call
is needed). Limits come from the settings ``STUDIO_QUOTA_PHOTOS`` and
``STUDIO_QUOTA_BYTES`` (0 = no limit), overridden per user by the Profile's
``max_photos`` / ``max_bytes`` when set (taken literally there: 0 lets a
moderator stop one user's uploads).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from gallery.models import Artwork, Photo, Profile


@dataclass(frozen=True)
class QuotaUsage:
    """What a user has used and may use. A limit of 0 from the site
    defaults means "no limit" (``has_photo_limit`` / ``has_byte_limit``)."""

    photos_used: int
    max_photos: int
    bytes_used: int
    max_bytes: int
    has_photo_limit: bool = True
    has_byte_limit: bool = True

    @property
    def bytes_percent(self) -> int:
        if not self.has_byte_limit:
            return 0
        if self.max_bytes <= 0:
            return 100
        return min(100, round(100 * self.bytes_used / self.max_bytes))

    @property
    def photos_percent(self) -> int:
        if not self.has_photo_limit:
            return 0
        if self.max_photos <= 0:
            return 100
        return min(100, round(100 * self.photos_used / self.max_photos))

    @property
    def percent(self) -> int:
        """The fuller of the two limits, 0-100, for a progress bar."""
        return max(self.bytes_percent, self.photos_percent)

    @property
    def photos_left(self) -> int | None:
        if not self.has_photo_limit:
            return None
        return max(0, self.max_photos - self.photos_used)

    @property
    def bytes_left(self) -> int | None:
        if not self.has_byte_limit:
            return None
        return max(0, self.max_bytes - self.bytes_used)


def _limits(user) -> tuple[int, bool, int, bool]:
    profile = (
        Profile.objects.filter(user_id=user.pk).only("max_photos", "max_bytes").first()
    )
    if profile is not None and profile.max_photos is not None:
        max_photos, photo_limit = profile.max_photos, True
    else:
        max_photos = settings.STUDIO_QUOTA_PHOTOS
        photo_limit = max_photos > 0
    if profile is not None and profile.max_bytes is not None:
        max_bytes, byte_limit = profile.max_bytes, True
    else:
        max_bytes = settings.STUDIO_QUOTA_BYTES
        byte_limit = max_bytes > 0
    return max_photos, photo_limit, max_bytes, byte_limit


def bytes_used_by(user) -> int:
    """Originals + results + thumbnails recorded on the user's rows."""
    photos = Photo.objects.filter(owner_id=user.pk).aggregate(total=Sum("byte_size"))[
        "total"
    ]
    artworks = Artwork.objects.filter(owner_id=user.pk).aggregate(
        total=Sum(F("result_bytes") + F("thumbnail_bytes"))
    )["total"]
    return int(photos or 0) + int(artworks or 0)


def usage_for(user) -> QuotaUsage:
    """The user's current usage and effective limits."""
    max_photos, photo_limit, max_bytes, byte_limit = _limits(user)
    return QuotaUsage(
        photos_used=Photo.objects.filter(owner_id=user.pk).count(),
        max_photos=max_photos,
        bytes_used=bytes_used_by(user),
        max_bytes=max_bytes,
        has_photo_limit=photo_limit,
        has_byte_limit=byte_limit,
    )


def check_upload(user, byte_size: int) -> None:
    """Refuse (``services.UploadRefused``, 413) an upload that would go over
    the user's photo count or storage quota. Called before anything is
    written, so a refused upload leaves no row and no file.

    Only the original's size is known at upload time; the rendered results
    are counted once they exist, so a user can end slightly above the byte
    limit, and the next upload is refused.
    """
    from gallery import services  # services imports this module

    usage = usage_for(user)
    if usage.has_photo_limit and usage.photos_used + 1 > usage.max_photos:
        raise services.UploadRefused(
            _(
                "You have reached your limit of %(max)d photos. "
                "Delete some photos to upload new ones."
            )
            % {"max": usage.max_photos},
            status=413,
            retry_after=None,
        )
    if usage.has_byte_limit and usage.bytes_used + byte_size > usage.max_bytes:
        raise services.UploadRefused(
            _(
                "This photo (%(size)s) would take you over your storage quota: "
                "%(used)s of %(max)s used. Delete some artworks to make room."
            )
            % {
                "size": filesizeformat(byte_size),
                "used": filesizeformat(usage.bytes_used),
                "max": filesizeformat(usage.max_bytes),
            },
            status=413,
            retry_after=None,
        )
