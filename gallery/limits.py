"""What a user, and the whole studio, may do: quotas, backpressure, rate limits.

Every refusal of new work is decided here, before anything is written:

- quotas: how many photos and how many bytes a user may store
  (``STUDIO_QUOTA_PHOTOS`` / ``STUDIO_QUOTA_BYTES``, 0 = no limit, overridden
  per user by the Profile's ``max_photos`` / ``max_bytes`` when set, taken
  literally there: 0 lets a moderator stop one user's uploads); 413;
- backpressure: unfinished artworks per user
  (``STUDIO_MAX_UNFINISHED_PER_USER``, 429) and queued artworks for the whole
  site (``STUDIO_MAX_QUEUE_DEPTH``, 503), counted in the database so they hold
  while Redis is down, with ``Retry-After`` estimated from recent renders;
- rate limits: requests per user (or address) and minute, counted in the
  shared cache (Redis), so every web process and machine sees one budget;
- login lockout: failed sign-ins per username and address, per username and
  per address, each with its own budget (django-axes, in the database).

Bytes count what the user's rows hold in storage: originals plus every
artwork's result and thumbnail, as recorded on the rows.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from gallery.models import Artwork, Photo, Profile
from gallery.pipeline.progress import recent_job_seconds, worker_count

MIN_RETRY_AFTER = 5
MAX_RETRY_AFTER = 900
RATE_WINDOW_SECONDS = 60


class UploadRefused(Exception):
    """New work turned away before anything is written (quota, backpressure).

    ``status`` is the HTTP status the API answers with (413 for a full quota,
    429 for a per-user limit, 503 when the whole service is saturated);
    ``retry_after`` is in seconds, or None when waiting will not help.
    """

    def __init__(
        self, message: str, *, status: int = 429, retry_after: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def over_rate(retry_after: int) -> UploadRefused:
    """The refusal (429) of a request over one of the per-minute budgets."""
    return UploadRefused(
        _("Too many requests. Please wait %(seconds)d seconds.")
        % {"seconds": retry_after},
        status=429,
        retry_after=retry_after,
    )


# Quotas ---------------------------------------------------------------------


def _percent(used: int, limit: int, has_limit: bool) -> int:
    if not has_limit:
        return 0
    if limit <= 0:
        return 100
    return min(100, round(100 * used / limit))


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
        return _percent(self.bytes_used, self.max_bytes, self.has_byte_limit)

    @property
    def photos_percent(self) -> int:
        return _percent(self.photos_used, self.max_photos, self.has_photo_limit)

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


@functools.cache
def _usage_sql() -> str:
    """The one statement behind ``usage_for`` and ``check_queue``.

    Every upload asks it twice (before its file is written and again under
    the owner's lock): as four ORM queries that cost ~2.3 ms a check, most
    of it building the queries, against ~0.3 ms for this one. Table and
    column names come from the models.
    """
    art, photo, profile = Artwork._meta, Photo._meta, Profile._meta

    def column(meta, name: str) -> str:
        return connection.ops.quote_name(meta.get_field(name).column)

    a_owner, p_owner = column(art, "owner"), column(photo, "owner")
    stored = " + ".join(column(art, f) for f in Artwork.STORED_BYTE_FIELDS)
    a, p, q = (connection.ops.quote_name(m.db_table) for m in (art, photo, profile))
    return (
        "SELECT"
        f" (SELECT COUNT(*) FROM {a} WHERE {a_owner} = %s"
        f"  AND {column(art, 'status')} IN (%s, %s)),"
        f" (SELECT COUNT(*) FROM {a} WHERE {column(art, 'status')} = %s),"
        f" (SELECT COUNT(*) FROM {p} WHERE {p_owner} = %s),"
        f" (SELECT COALESCE(SUM({column(photo, 'byte_size')}), 0) FROM {p}"
        f"  WHERE {p_owner} = %s),"
        f" (SELECT COALESCE(SUM({stored}), 0) FROM {a} WHERE {a_owner} = %s),"
        f" (SELECT {column(profile, 'max_photos')} FROM {q}"
        f"  WHERE {column(profile, 'user')} = %s),"
        f" (SELECT {column(profile, 'max_bytes')} FROM {q}"
        f"  WHERE {column(profile, 'user')} = %s)"
    )


@dataclass(frozen=True)
class _Counts:
    unfinished: int  # the user's queued or processing artworks
    queued: int  # the whole site's queued artworks
    usage: QuotaUsage


def _counts(user) -> _Counts:
    """What the checks of one upload count, in one statement."""
    pk = user.pk
    params = [pk, *Artwork.UNFINISHED, Artwork.Status.QUEUED, pk, pk, pk, pk, pk]
    with connection.cursor() as cursor:
        cursor.execute(_usage_sql(), params)
        unfinished, queued, photos, originals, rendered, max_photos, max_bytes = (
            cursor.fetchone()
        )
    # A limit set on the user's profile is taken literally (0 stops the
    # user); the site's default of 0 means no limit.
    if max_photos is not None:
        photo_limit = True
    else:
        max_photos = settings.STUDIO_QUOTA_PHOTOS
        photo_limit = max_photos > 0
    if max_bytes is not None:
        byte_limit = True
    else:
        max_bytes = settings.STUDIO_QUOTA_BYTES
        byte_limit = max_bytes > 0
    return _Counts(
        unfinished=unfinished,
        queued=queued,
        usage=QuotaUsage(
            photos_used=photos,
            max_photos=max_photos,
            bytes_used=int(originals) + int(rendered),
            max_bytes=max_bytes,
            has_photo_limit=photo_limit,
            has_byte_limit=byte_limit,
        ),
    )


def bytes_used_by(user) -> int:
    """Originals + results + thumbnails recorded on the user's rows."""
    return usage_for(user).bytes_used


def usage_for(user) -> QuotaUsage:
    """The user's current usage and effective limits (one query)."""
    return _counts(user).usage


def check_quota(user, byte_size: int) -> None:
    """Refuse (``UploadRefused``, 413) an upload that would go over the user's
    photo count or storage quota.

    Only the original's size is known at upload time; the rendered results
    are counted once they exist, so a user can end slightly above the byte
    limit, and the next upload is refused.
    """
    _refuse_over_quota(usage_for(user), byte_size)


def _refuse_over_quota(usage: QuotaUsage, byte_size: int) -> None:
    if usage.has_photo_limit and usage.photos_used + 1 > usage.max_photos:
        raise UploadRefused(
            _(
                "You have reached your limit of %(max)d photos. "
                "Delete some photos to upload new ones."
            )
            % {"max": usage.max_photos},
            status=413,
            retry_after=None,
        )
    if usage.has_byte_limit and usage.bytes_used + byte_size > usage.max_bytes:
        raise UploadRefused(
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


def check_storage_left(user) -> None:
    """Refuse (413) new artworks of a stored photo once the storage is full:
    results take space even though the photo is not stored twice."""
    usage = usage_for(user)
    if usage.has_byte_limit and usage.bytes_used >= usage.max_bytes:
        raise UploadRefused(
            _("Your storage is full. Delete some artworks to make new ones."),
            status=413,
        )


# Backpressure -----------------------------------------------------------------


def _clamp(seconds: float) -> int:
    return int(min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, math.ceil(seconds))))


def _refuse_over_styles(count: int) -> None:
    user_cap = settings.STUDIO_MAX_UNFINISHED_PER_USER
    if count > user_cap:
        raise UploadRefused(
            _("Choose at most %(cap)d styles at a time.") % {"cap": user_cap},
            status=429,
        )


def check_queue(owner, count: int) -> None:
    """Refuse (``UploadRefused``) ``count`` new artworks over a queue cap:
    429 over the user's unfinished cap, 503 over the site-wide queue."""
    _refuse_over_styles(count)
    _refuse_over_queue(_counts(owner), count)


def _refuse_over_queue(counts: _Counts, count: int) -> None:
    user_cap = settings.STUDIO_MAX_UNFINISHED_PER_USER
    unfinished, queued = counts.unfinished, counts.queued
    if unfinished + count > user_cap:
        excess = unfinished + count - user_cap
        raise UploadRefused(
            _(
                "You already have %(count)d artworks on their way. Please wait "
                "until some of them are finished, then upload again."
            )
            % {"count": unfinished},
            status=429,
            retry_after=_clamp(recent_job_seconds() * excess),
        )
    if queued + count > settings.STUDIO_MAX_QUEUE_DEPTH:
        workers = max(1, worker_count())
        raise UploadRefused(
            _("The studio is very busy right now. Please try again in a few minutes."),
            status=503,
            retry_after=_clamp(recent_job_seconds() * queued / workers),
        )


def check_upload(owner, count: int, byte_size: int) -> None:
    """Every refusal of an upload of one photo in ``count`` styles: the
    queue caps first, then the quota, on one query's counts."""
    _refuse_over_styles(count)
    counts = _counts(owner)
    _refuse_over_queue(counts, count)
    _refuse_over_quota(counts.usage, byte_size)


# Rate limits --------------------------------------------------------------------


def hit(
    scope: str,
    ident: str | int,
    limit: int,
    *,
    window: int = RATE_WINDOW_SECONDS,
    now: float | None = None,
) -> int | None:
    """Count one request of ``ident`` in ``scope``; return the seconds to wait
    when that makes more than ``limit`` in the current window (a minute
    unless ``window`` says otherwise), else None.

    A fixed window per key: cheap and self-expiring. When the cache is down
    it degrades to misses, and requests pass un-limited.
    """
    now = time.time() if now is None else now
    slot = int(now // window)
    key = f"rate:{scope}:{ident}:{window}:{slot}"
    count = cache.count(key, timeout=window * 2)
    if count is not None and count > limit:
        return max(1, math.ceil((slot + 1) * window - now))
    return None


# Login lockout ------------------------------------------------------------------


class LoginLockoutHandler(AxesDatabaseHandler):
    """django-axes with a failure budget per lockout parameter.

    ``AXES_LOCKOUT_PARAMETERS`` lists the pair, the username and the address,
    with the budgets ``AXES_FAILURE_LIMIT``,
    ``STUDIO_LOGIN_USERNAME_FAILURE_LIMIT`` and
    ``STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT``. Axes compares
    one count with one limit (``AXES_FAILURE_LIMIT``, the pair's), so each
    parameter's failures are scaled to that limit: a set is over budget
    exactly when its count reaches its own limit.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        base = settings.AXES_FAILURE_LIMIT
        budgets = (
            base,
            settings.STUDIO_LOGIN_USERNAME_FAILURE_LIMIT,
            settings.STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT,
        )
        worst = 0
        attempts_list = self.get_user_attempts(request, credentials)
        for attempts, limit in zip(attempts_list, budgets, strict=True):
            total = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            worst = max(worst, total * base // limit)
        return worst

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """A successful sign-in clears its own username and address pair only:
        signing in to one's own account must not reset an address's budget
        against other accounts, nor an account's against other addresses."""
        deleted, _rows = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        ).delete()
        return deleted
