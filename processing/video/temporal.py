"""Temporal stability of styled video: the flicker measure and the stabiliser.

The measure (:func:`flicker_ratio`): on a clip whose background stands
still while one object moves, the mean absolute change between consecutive
frames in the still region, of the result divided by that of the source. 1
means the style adds no flicker; the bar is 1.5.

The stabiliser (:class:`Stabilizer`) is Hertzmann and Perlin's frame
differencing ("Painterly Rendering for Video and Interaction", NPAR 2000):
the result is repainted only where the source has changed by more than a
threshold since that part was last painted; elsewhere the previous result
is kept. Every style gets it, filters and stroke styles alike: a style
whose output depends on every input pixel (the pencil's counts amplify
sensor noise; strokes start at a cell's worst pixel) then leaves a still
background exactly still, strokes and dots included, while the moving
parts are repainted each frame. The alternative for strokes, advecting
them with optical flow (Litwinowicz 1997), also handles camera pans, but
needs the stroke list between frames, which the image styles do not
expose; it costs an optical flow per frame. What this does not do: a
panning or zooming camera changes every pixel, so every frame is
repainted and stroke styles "swim"; a slow fade is repainted in steps of
the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import av
import cv2
import numpy as np

from processing.styles import STYLES, render

__all__ = ["Stabilizer", "decoded_frames", "flicker_ratio", "frame_change"]


def decoded_frames(path: Any) -> Iterator[np.ndarray]:
    """Every frame of a video file as BGR uint8, one at a time."""
    with av.open(path) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="bgr24")


def frame_change(frames: Iterable[np.ndarray], mask: np.ndarray) -> float:
    """Mean absolute change between consecutive frames inside ``mask``.

    Args:
        frames: BGR uint8 frames of one size (an iterator is consumed once).
        mask: HxW bool, the pixels to measure (cropped to the frame size).

    Returns:
        The mean over frame pairs and channels of ``|f[t] - f[t-1]|`` in
        grey levels (0.0 for fewer than two frames).
    """
    previous = None
    total, pairs = 0.0, 0
    for frame in frames:
        h, w = frame.shape[:2]
        m = mask[:h, :w]
        current = frame[:h, :w][m].astype(np.int16)
        if previous is not None:
            total += float(np.abs(current - previous).mean())
            pairs += 1
        previous = current
    return total / pairs if pairs else 0.0


def flicker_ratio(
    source: Iterable[np.ndarray], result: Iterable[np.ndarray], mask: np.ndarray
) -> float:
    """:func:`frame_change` of the result over that of the source, in ``mask``.

    Both are measured on the same pixels (the mask cropped to the smaller
    frame, since the result may have lost an odd column or row).
    """
    changed = frame_change(source, mask)
    return frame_change(result, mask) / max(changed, 1e-6)


#: Long side of the copy of each frame that changes are measured on, px.
_PROBE_SIDE = 320
#: A pixel of that copy (area-averaged, then blurred: sensor noise and
#: codec noise shrink to a fraction of a grey level) has changed when a
#: channel moved by more than this since it was last painted.
_THRESHOLD = 6.0
#: How far around a change the result is repainted, full-size px (the
#: style's largest length parameter - brush, dot, smoothing - clamped).
_REACH_MIN, _REACH_MAX = 4, 24


#: Context around the repainted area when only a part of the frame is
#: rendered, px (plus half the reach), its corner aligned to this many px;
#: above this share of the frame the whole frame is rendered.
_MARGIN, _ALIGN, _WHOLE = 16, 16, 0.6


def _reach(style: str, values: dict[str, Any]) -> int:
    lengths = [values[p.name] for p in STYLES[style].params if p.unit == "px"]
    return int(min(_REACH_MAX, max([_REACH_MIN, *lengths])))


class Stabilizer:
    """Render frames in a style, repainting only what changed (frame differencing).

    Args:
        style: a slug of :data:`processing.STYLES`.
        values: its validated parameters (:func:`processing.validate_params`).

    Call :meth:`render` with every frame in order (one size throughout).
    """

    def __init__(self, style: str, values: dict[str, Any]) -> None:
        self.style, self.values = style, values
        self.reach = _reach(style, values)
        self.held: np.ndarray | None = None
        self.reference: np.ndarray | None = None
        self.scale = 1.0

    def _probe(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0)

    def render(self, image: np.ndarray) -> np.ndarray:
        """The styled frame: a fresh render where the source changed, the
        previous result elsewhere, blended across a soft border.

        Only the bounding box of what changed (plus context) is rendered, so
        a still camera with a small moving subject costs a fraction of a
        frame; a frame with nothing changed costs no render at all.

        Returns:
            A new HxWx3 uint8 array (never modified afterwards, so it may
            be handed to an encoder thread).
        """
        h, w = image.shape[:2]
        if self.held is None or self.held.shape[:2] != (h, w):
            self.scale = min(1.0, _PROBE_SIDE / max(h, w))
            self.reference = self._probe(image)
            self.held = render(image, self.style, **self.values)
            return self.held
        probe = self._probe(image)
        diff = cv2.absdiff(probe, self.reference)
        # the largest channel change (numpy's max over the last axis of a
        # small image costs 10x this)
        diff = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
        changed = (diff > _THRESHOLD).astype(np.uint8)
        if not changed.any():
            return self.held
        reach = max(1, round(self.reach * self.scale))
        kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)
        )
        region = cv2.dilate(changed, kernel)
        # the reference moves on where the result is repainted
        np.copyto(self.reference, probe, where=region[..., None].astype(bool))
        alpha = cv2.GaussianBlur(region.astype(np.float32), (0, 0), reach / 4 + 0.5)
        np.maximum(alpha, region, out=alpha)
        alpha[alpha < 0.02] = 0.0
        y0, y1, x0, x1 = self._crop(alpha, h, w)
        alpha = self._alpha_window(alpha, y0, y1, x0, x1)
        fresh = render(image[y0:y1, x0:x1], self.style, **self.values)
        out = self.held.copy()
        out[y0:y1, x0:x1] = cv2.blendLinear(
            fresh, out[y0:y1, x0:x1], alpha, 1.0 - alpha
        )
        self.held = out
        return out

    def _alpha_window(
        self, alpha: np.ndarray, y0: int, y1: int, x0: int, x1: int
    ) -> np.ndarray:
        """The repaint weights of the crop at full size (bilinear, as a
        full-frame ``cv2.resize`` would give, but only for the crop)."""
        # full-size pixel centre x maps to (x + 0.5) * scale - 0.5 in alpha
        matrix = np.float32(
            [[self.scale, 0, (x0 + 0.5) * self.scale - 0.5],
             [0, self.scale, (y0 + 0.5) * self.scale - 0.5]]
        )  # fmt: skip
        return cv2.warpAffine(
            alpha, matrix, (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip

    def _crop(self, alpha: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
        """The part of the frame to render: the repainted area's bounding
        box plus a margin of context (the whole frame when that is most of it)."""
        x, y, bw, bh = cv2.boundingRect((alpha > 0).astype(np.uint8))
        margin = _MARGIN + self.reach // 2
        y0 = max(0, math.floor(y / self.scale) - margin) // _ALIGN * _ALIGN
        x0 = max(0, math.floor(x / self.scale) - margin) // _ALIGN * _ALIGN
        y1 = min(h, math.ceil((y + bh) / self.scale) + margin)
        x1 = min(w, math.ceil((x + bw) / self.scale) + margin)
        if (y1 - y0) * (x1 - x0) > _WHOLE * h * w:
            return 0, h, 0, w
        return y0, y1, x0, x1
