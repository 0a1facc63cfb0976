"""Backpressure: refuse uploads the workers cannot take on, before any write.

Two caps, both counted in the database so they hold while Redis is down:

- per user, unfinished (queued or processing) artworks,
  ``STUDIO_MAX_UNFINISHED_PER_USER``: 429, the user should slow down;
- for the whole site, queued artworks, ``STUDIO_MAX_QUEUE_DEPTH``: 503, the
  service is saturated.

Both answer with ``Retry-After``, estimated from recent render durations.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.utils.translation import gettext as _

from gallery.models import Artwork

_UNFINISHED = (Artwork.Status.QUEUED, Artwork.Status.PROCESSING)
MIN_RETRY_AFTER = 5
MAX_RETRY_AFTER = 900


def _clamp(seconds: float) -> int:
    return int(min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, math.ceil(seconds))))


def check_upload(owner, count: int) -> None:
    """Raise ``UploadRefused`` when ``count`` new artworks would exceed a cap."""
    from gallery.progress import recent_job_seconds, worker_count
    from gallery.services import UploadRefused

    user_cap = settings.STUDIO_MAX_UNFINISHED_PER_USER
    if count > user_cap:
        raise UploadRefused(
            _("Choose at most %(cap)d styles at a time.") % {"cap": user_cap},
            status=429,
        )
    unfinished = Artwork.objects.filter(owner=owner, status__in=_UNFINISHED).count()
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
    queued = Artwork.objects.filter(status=Artwork.Status.QUEUED).count()
    if queued + count > settings.STUDIO_MAX_QUEUE_DEPTH:
        workers = max(1, worker_count())
        raise UploadRefused(
            _("The studio is very busy right now. Please try again in a few minutes."),
            status=503,
            retry_after=_clamp(recent_job_seconds() * queued / workers),
        )
