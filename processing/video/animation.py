"""Animated GIF/WebP in (frames with their durations) and animated WebP out.

Frames are read one at a time with Pillow (``Image.seek``, which applies
GIF disposal and WebP blending), so memory does not grow with the frame
count. The animated WebP result is written by libwebp's incremental
animation encoder (the ``WebPAnimEncoder`` Pillow's own ``save_all`` uses),
fed frame by frame, so only the compressed frames are held.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, _webp

from processing.video.probe import InvalidVideo, MediaInfo

__all__ = ["WEBP_LONG_SIDE", "WebpWriter", "animation_frames"]

#: Longest side of the animated WebP result, px: a 15 s clip stays a few MB.
WEBP_LONG_SIDE = 480
_WEBP_QUALITY = 78
_WEBP_METHOD = 4
#: Frame delays at or below 10 ms play at 100 ms, as in browsers.
_MIN_DELAY_MS = 10
_DEFAULT_DELAY_MS = 100


def animation_frames(
    stream: BinaryIO, info: MediaInfo
) -> Iterator[tuple[np.ndarray, int, int]]:
    """Yield ``(bgr, start_ms, duration_ms)`` for every frame of a GIF or WebP
    animation (delays of 10 ms or less count as 100 ms, as in browsers).

    Raises:
        InvalidVideo: a frame larger than the header's canvas, or a file
            that cannot be decoded.
    """
    try:
        image = Image.open(stream, formats=("GIF", "WEBP"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidVideo("The animation file is truncated or damaged.") from None
    with image:
        if image.size != (info.width, info.height):
            raise InvalidVideo(
                f"The file says its frames are {info.width}x{info.height} but "
                f"they are {image.size[0]}x{image.size[1]}."
            )
        start = 0
        index = 0
        while True:
            try:
                image.seek(index)
                rgb = np.asarray(image.convert("RGB"))
            except EOFError:
                return
            except (OSError, ValueError, SyntaxError):
                raise InvalidVideo(
                    "The animation file is truncated or damaged."
                ) from None
            delay = int(image.info.get("duration") or 0)
            if delay <= _MIN_DELAY_MS:
                delay = _DEFAULT_DELAY_MS
            yield cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), start, delay
            start += delay
            index += 1


class WebpWriter:
    """Animated WebP, lossy (quality 78, method 4), long side at most 480 px.

    ``add(bgr, start_ms)`` for each frame, then ``close(end_ms)``; the file
    is written on close.
    """

    def __init__(self, out: str | os.PathLike | BinaryIO, width: int, height: int):
        scale = min(1.0, WEBP_LONG_SIDE / max(width, height))
        self.size = (max(1, round(width * scale)), max(1, round(height * scale)))
        self.out = out
        # size, background (opaque black), loop forever, minimize_size,
        # kmin, kmax (Pillow's lossy defaults), allow_mixed, verbose
        self.encoder = _webp.WebPAnimEncoder(
            self.size, 0xFF000000, 0, False, 3, 5, False, False
        )

    def add(self, bgr: np.ndarray, start_ms: int) -> None:
        """Add a frame shown from ``start_ms`` on."""
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        frame = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        self.encoder.add(
            frame.getim(), int(start_ms), False, _WEBP_QUALITY, 100, _WEBP_METHOD
        )

    def close(self, end_ms: int) -> None:
        """Finish the animation at ``end_ms`` and write the file."""
        self.encoder.add(None, int(end_ms), False, _WEBP_QUALITY, 100, 0)
        data = self.encoder.assemble(b"", b"", b"")
        if isinstance(self.out, str | os.PathLike):
            with open(self.out, "wb") as fh:
                fh.write(data)
        else:
            self.out.write(data)
