"""Live previews and style sample images, rendered synchronously in the web
process.

A preview is the user's own photo scaled to a long side of at most
``PREVIEW_LONG_SIDE`` pixels, rendered with the chosen recipe and encoded as
JPEG. Answers are cached by recipe (source content hash + style + parameters
+ engine version) in Django's cache, and every user gets a small per-minute
budget so that a script cannot turn the web process into a render farm.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

import cv2
import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

import processing
from gallery import limits
from gallery.models import Photo
from gallery.pipeline.dedup import recipe_key
from gallery.pipeline.proxy import PROXY_LONG_SIDE

logger = logging.getLogger(__name__)

PREVIEW_LONG_SIDE = PROXY_LONG_SIDE
#: Pixels a preview may decode, checked from the header before any decode
#: (JPEGs count after their DCT-domain downscale, so any JPEG passes; other
#: formats must be at most this large: the editor sends 512 px anyway).
PREVIEW_MAX_PIXELS = 4_000_000
SAMPLE_SIZE = (360, 270)
SOURCE_TIMEOUT = 3600
#: The small source is cached as a high-quality JPEG (~30 KB, not a 760 KB
#: PNG); every preview renders from those cached pixels, hit or miss.
SOURCE_QUALITY = 95
#: Seconds a request waits for a decode slot before it is refused (503).
DECODE_WAIT = 1.0
BUSY_RETRY_AFTER = 2


class PreviewBusy(Exception):
    """Every decode slot of this process is taken: answer 503 + Retry-After."""

    retry_after = BUSY_RETRY_AFTER


_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _decode_slots() -> threading.BoundedSemaphore:
    """The per-process limit on concurrent decodes (``STUDIO_PREVIEW_DECODES``)."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.STUDIO_PREVIEW_DECODES)
        return _slots


def check_rate(user_id: int) -> int | None:
    """Count one preview against the user's per-minute budget
    (``STUDIO_PREVIEW_RATE``); the seconds to wait when it is spent."""
    return limits.hit("preview", user_id, settings.STUDIO_PREVIEW_RATE)


def cache_key(content_hash: str, style: str, params: dict) -> str:
    """The cache key of one preview: the artwork recipe key at preview size."""
    key = recipe_key(content_hash, style, params, processing.style_version(style))
    return f"preview:{PREVIEW_LONG_SIDE}:{key}"


def stored_source(photo: Photo) -> Callable[[], bytes]:
    """The bytes a preview of a stored photo decodes: its proxy once the
    render job has made it, else the original (through the same bounded
    decode as an uploaded image)."""

    def load() -> bytes:
        stored = photo.preview_proxy or photo.original
        with stored.open("rb") as handle:
            return handle.read()

    return load


def _decode_small(data: bytes) -> np.ndarray:
    """Decode within the pixel budget, one of a few decodes at a time."""
    slots = _decode_slots()
    if not slots.acquire(timeout=DECODE_WAIT):
        raise PreviewBusy
    try:
        # work_pixels is a pixel budget, not a side: ask for the square
        # budget (JPEG draft decoding makes this cheap), then cap the side.
        image = processing.decode(
            data,
            max_pixels=settings.STUDIO_MAX_PIXELS,
            work_pixels=PREVIEW_LONG_SIDE * PREVIEW_LONG_SIDE,
            decode_pixels=PREVIEW_MAX_PIXELS,
        )
        return processing.make_thumbnail(image, PREVIEW_LONG_SIDE)
    finally:
        slots.release()


def _small_source(content_hash: str, load: Callable[[], bytes]) -> np.ndarray:
    """The photo at a long side of at most 512, cached by content.

    Decoding costs more than rendering the preview itself, so the small
    source is kept (as a JPEG at quality 95) for the next slider move.
    """
    key = f"preview-src:{content_hash}"
    cached = cache.get(key)
    if cached is None:
        cached = processing.encode(_decode_small(load()), "jpeg", SOURCE_QUALITY)
        cache.set(key, cached, timeout=SOURCE_TIMEOUT)
    image = cv2.imdecode(np.frombuffer(cached, np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # a damaged cache entry: start again from the source
        cache.delete(key)
        return _small_source(content_hash, load)
    return image


def _work_long_side(size: tuple[int, int]) -> float:
    """The long side a full render of a photo this size has (after the
    ``STUDIO_WORK_PIXELS`` cap)."""
    width, height = size
    shrink = min(1.0, math.sqrt(settings.STUDIO_WORK_PIXELS / (width * height)))
    return max(width, height) * shrink


def render_preview(
    content_hash: str,
    load: Callable[[], bytes],
    style: str,
    params: dict,
    full_size: tuple[int, int] | None = None,
) -> tuple[bytes, bool]:
    """Return ``(jpeg_bytes, from_cache)`` for one recipe.

    ``content_hash`` is the sha256 of the source bytes and ``load`` returns
    those bytes; it is only called on a cache miss, so a cached preview of a
    stored photo never touches storage. ``params`` is the full dict that
    ``processing.validate_params`` returned (the form validated it).
    ``full_size`` is the (width, height) of the photo the final artwork is
    rendered from: pixel-unit parameters are scaled down with the preview.
    Raises ``processing.InvalidImage`` for an unreadable (or, for a
    preview, too large) photo, ``ValueError`` for a bad style or parameter
    and ``PreviewBusy`` when this process is decoding too many already.
    """
    key = cache_key(content_hash, style, params)
    if full_size:
        key = f"{key}:{full_size[0]}x{full_size[1]}"
    cached = cache.get(key)
    if cached is not None:
        return cached, True
    image = _small_source(content_hash, load)
    if full_size:
        # Parameters in pixels (brush sizes, radii) scaled with the image, so
        # the preview looks like the full-size result, only smaller.
        scale = max(image.shape[:2]) / _work_long_side(full_size)
        if scale < 1:
            params = processing.scale_params(style, params, scale)
    rendered = processing.render(image, style, **params)
    jpeg = processing.encode(rendered, "jpeg", 85)
    cache.set(key, jpeg, timeout=settings.STUDIO_PREVIEW_CACHE_SECONDS)
    return jpeg, False


# Style samples ---------------------------------------------------------------


def sample_scene(width: int = SAMPLE_SIZE[0], height: int = SAMPLE_SIZE[1]):
    """A small landscape drawn in code: sky, sun, hills, a house and a tree.

    Procedural, so the sample cards show what our engine does to a photo-like
    scene without shipping anybody's photograph. Returns BGR uint8.
    """
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    t = y / height
    # Sky: blue at the top fading to a warm horizon (BGR).
    img[...] = np.stack(
        [235 - 60 * t, 190 - 20 * t, 120 + 110 * t], axis=-1
    )  # fmt: skip
    sun = (x - width * 0.78) ** 2 + (y - height * 0.22) ** 2 < (height * 0.1) ** 2
    img[sun] = (90, 215, 255)
    far = y > height * (0.55 + 0.06 * np.sin(x / width * 6.0))
    img[far] = (120, 140, 95)
    near = y > height * (0.68 + 0.05 * np.cos(x / width * 4.0 + 1.0))
    img[near] = np.stack(
        [40 + 20 * np.sin(x / 9.0), 150 + 25 * np.cos(y / 7.0), 70 + 0 * x], axis=-1
    )[near]
    # A house with a red roof and a window.
    hx, hy, hw, hh = (
        int(width * 0.2),
        int(height * 0.5),
        int(width * 0.22),
        int(height * 0.2),
    )
    img[hy : hy + hh, hx : hx + hw] = (200, 225, 240)
    roof = (
        (y < hy)
        & (y > hy - hh * 0.7)
        & (np.abs(x - (hx + hw / 2)) < (y - (hy - hh * 0.7)) * 1.3)
    )
    img[roof] = (50, 50, 190)
    img[hy + hh // 4 : hy + hh // 2, hx + hw // 5 : hx + hw // 5 + hw // 4] = (
        90,
        60,
        40,
    )
    # A tree: trunk and round crown.
    tx = int(width * 0.6)
    img[int(height * 0.5) : int(height * 0.75), tx - 4 : tx + 4] = (30, 60, 90)
    crown = (x - tx) ** 2 + (y - height * 0.45) ** 2 < (height * 0.13) ** 2
    img[crown] = (50, 130, 40)
    # A little grain, then the slight softness of a real lens: flat synthetic
    # colours with hard aliased edges would exaggerate the edge-driven styles.
    img += rng.normal(0, 1.5, img.shape)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return np.clip(img, 0, 255).astype(np.uint8)


def sample_name(style: str) -> str:
    return f"style-samples/{processing.style_version(style)}/{style}.jpg"


def style_sample(style: str) -> bytes:
    """The JPEG sample of a style, rendered by the engine at first use.

    Stored under the engine version, so a new engine renders fresh samples.
    Raises KeyError for an unknown style.
    """
    spec = processing.STYLES[style]
    name = sample_name(style)
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError):
        pass
    rendered = processing.render(sample_scene(), spec.slug, **spec.defaults())
    data = processing.encode(rendered, "jpeg", 85)
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:
        # Another request stored it first; keep one copy only.
        default_storage.delete(saved)
    return data
