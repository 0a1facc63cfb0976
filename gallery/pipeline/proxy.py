"""The live preview's source of a stored photo: the photo at a long side of
``PROXY_LONG_SIDE`` pixels, a JPEG at quality ``PROXY_QUALITY``, made once
by the first render job from the decoded original it already holds in
memory, and stored through the storage API on ``Photo.preview_proxy``.
(It was a PNG: at 512 px that cost ~11 ms of every first job to encode and
~290 KB to store; the JPEG costs ~0.5 ms and ~45 KB, and a preview of it is
indistinguishable at the size previews are shown.)

The preview then decodes a 512 px file instead of the original (which may
be a 50 MP PNG); until the proxy exists it decodes the original through the
same bounded path as an uploaded preview image.
"""

from __future__ import annotations

import logging

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError

import processing
from gallery.models import Photo

logger = logging.getLogger(__name__)

PROXY_LONG_SIDE = 512
PROXY_QUALITY = 95
#: Up to this many pixels a job keeps the decoded photo until it is done and
#: makes the proxy then (at most 12 MB held through the encoding), off the
#: path to "done" (~4 ms of a 2 MP job); a larger photo's proxy is made
#: before its render, so that the photo is not held beside its result.
DEFER_PIXELS = 4_000_000


def proxy_pixels(image: np.ndarray) -> np.ndarray:
    """The proxy's pixels: ``image`` (BGR, decoded) at a long side of 512."""
    return processing.make_thumbnail(image, PROXY_LONG_SIDE)


def store_proxy(photo: Photo, small: np.ndarray) -> bool:
    """Store ``small`` as the photo's proxy unless it has one already.

    Never raises for a storage or database fault: the preview simply keeps
    decoding the original until a later job stores the proxy. A proxy that
    lost a race with another job's is deleted again (files follow rows).
    """
    try:
        name = default_storage.save(
            Photo.preview_proxy.field.generate_filename(photo, "preview.jpg"),
            ContentFile(processing.encode(small, "jpeg", PROXY_QUALITY)),
        )
    except Exception:  # noqa: BLE001 - a proxy must never fail a finished render
        logger.warning(
            "could not store the preview of photo %s", photo.pk, exc_info=True
        )
        return False
    try:
        changed = Photo.objects.filter(pk=photo.pk, preview_proxy="").update(
            preview_proxy=name
        )
    except DatabaseError:
        logger.warning("could not record the preview of photo %s", photo.pk)
        changed = 0
    if not changed:
        default_storage.delete(name)
        return False
    photo.preview_proxy.name = name
    return True
