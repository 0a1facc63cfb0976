"""Full-size downloads of a result in another format, converted once.

A result is stored as JPEG. ``?format=png`` or ``webp`` on its media URL used
to decode and re-encode the full-size result on every request: 1-1.5 s of CPU
and up to 15 MB out for a hundred bytes in, anonymous for a public artwork.
Now the first request converts it and stores the copy beside the result
(``gallery.storage.files.converted_name``); every later one streams the
stored copy. Copies are deleted with their result, and the orphan sweep
keeps them while their result is referenced.

One conversion of a given copy runs at a time (a short lock in the cache):
a request that finds it running is told to come back in a moment.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile

import processing
from gallery.storage.files import converted_name
from processing import formats

LOCK_SECONDS = 120


class ConversionBusy(Exception):
    """Another request is converting the same result right now."""


def stored_copy(field, fmt: formats.ImageFormat) -> str | None:
    """The name of the stored ``fmt`` copy of a result, or None if none yet."""
    name = converted_name(field.name, fmt.suffix)
    return name if field.storage.exists(name) else None


def convert(field, fmt: formats.ImageFormat) -> str:
    """Store the ``fmt`` copy of the result ``field`` and return its name.

    Raises ConversionBusy while another request converts it, and
    FileNotFoundError when the result itself is missing.
    """
    storage = field.storage
    name = converted_name(field.name, fmt.suffix)
    lock = f"convert:{name}"
    # cache.add is False when the key exists, and also when the cache is down:
    # only a lock that is really there means another conversion is running.
    if not cache.add(lock, 1, timeout=LOCK_SECONDS) and cache.get(lock) is not None:
        raise ConversionBusy
    try:
        if storage.exists(name):  # finished while we asked for the lock
            return name
        with field.open("rb") as handle:
            data = handle.read()
        # The result was rendered from at most STUDIO_WORK_PIXELS, so
        # decoding it with that budget never shrinks it.
        image = processing.decode(
            data,
            max_pixels=settings.STUDIO_MAX_PIXELS,
            work_pixels=settings.STUDIO_MAX_PIXELS,
        )
        del data
        encoded = processing.encode(image, fmt.slug, settings.STUDIO_RESULT_QUALITY)
        del image
        saved = storage.save(name, ContentFile(encoded))
        if saved != name:  # stored meanwhile by a request without the lock
            storage.delete(saved)
        return name
    finally:
        cache.delete(lock)
