"""Numba kernels: the per-pixel loops that have no fast OpenCV primitive.

* :func:`window_counts_rows` - the pencil sketch of OpenCV's photo module
  (``cv::pencilSketch``) is, once unrolled, ``shade_factor`` times the number
  of pixels that fall inside a box of radius ``r`` in domain-transform space,
  horizontally plus vertically. OpenCV finds those bounds with float32 index
  arithmetic and a linear scan per pixel; a two-pointer sweep per row does the
  same in O(n).
* :func:`oil_rows` - ``cv::xphoto::oilPainting``: sliding-window histogram of
  quantised luminance, mode bin, mean colour of that bin. The built-in scans
  all 256 bins for every pixel; here the mode is tracked incrementally and
  the bins are only rescanned when the mode bin loses a pixel.

Both are compiled with ``cache=True`` (compiled code is stored next to this
file in ``__pycache__`` or, if that is read-only, in Numba's user cache) and
run rows in parallel over all cores.
"""

from __future__ import annotations

import numba
import numpy as np


def _cache_works() -> bool:
    """Numba refuses ``cache=True`` when no cache directory is writable."""

    def probe() -> None:  # pragma: no cover - never called
        pass

    try:
        numba.njit(cache=True)(probe).enable_caching()
    except (RuntimeError, OSError):
        return False
    return True


_JIT = {"nogil": True, "cache": _cache_works()}


@numba.njit(parallel=True, **_JIT)
def window_counts_rows(
    image: np.ndarray, lut: np.ndarray, ratio: np.float32, radius: np.float32
) -> np.ndarray:
    """Pixels within ``radius`` of each pixel along its row, in domain space.

    Mirrors ``Domain_Filter::init`` + ``compute_boxfilter`` of OpenCV's photo
    module in float32: ``ct = cumsum(1 + ratio * sum_c |I[j] - I[j-1]|)``,
    ``count[j] = #{k : ct[j] - r < ct[k] <= ct[j] + r}``, including OpenCV's
    quirk that the upper bound of the first pixel stays 0 when the whole row
    fits in the window.

    Args:
        image: ``HxWx3`` uint8.
        lut: 256 float32 values, ``v / 255`` as OpenCV's ``convertTo`` makes.
        ratio: float32 ``sigma_s / sigma_r``.
        radius: float32 box radius in domain units.

    Returns:
        ``HxW`` float32 counts.
    """
    h, w = image.shape[0], image.shape[1]
    out = np.empty((h, w), np.float32)
    one = np.float32(1.0)
    for i in numba.prange(h):
        ct = np.empty(w, np.float32)
        acc = one
        ct[0] = acc
        for j in range(1, w):
            d = np.float32(0.0)
            for c in range(3):
                d = d + abs(lut[image[i, j, c]] - lut[image[i, j - 1, c]])
            acc = acc + (one + d * ratio)
            ct[j] = acc
        lo = 0
        hi = 0
        for j in range(w):
            q_lo = ct[j] - radius
            q_hi = ct[j] + radius
            while lo < w and not ct[lo] > q_lo:
                lo += 1
            while hi < w and not ct[hi] > q_hi:
                hi += 1
            upper = hi
            if j == 0 and hi >= w:
                upper = 0
            lower = lo if lo < w else 0
            out[i, j] = np.float32(upper - lower)
    return out


@numba.njit(parallel=True, **_JIT)
def oil_rows(
    image: np.ndarray, levels: np.ndarray, half: int, nbins: int
) -> np.ndarray:
    """Oil painting exactly as ``cv::xphoto::oilPainting`` computes it.

    Args:
        image: ``HxWx3`` uint8 BGR.
        levels: ``HxW`` uint8 quantised luminance, ``round(gray / dynRatio)``.
        half: window half size (the window is ``2*half+1`` square, clipped
            at the borders).
        nbins: number of histogram bins (``max(levels) + 1``).

    Returns:
        ``HxWx3`` uint8: for each pixel, the mean colour of the window's
        pixels whose level is the most frequent one (lowest level on ties).
    """
    h, w = image.shape[0], image.shape[1]
    out = np.empty((h, w, 3), np.uint8)
    for y in numba.prange(h):
        hist = np.zeros(nbins, np.int32)
        sums = np.zeros((nbins, 3), np.float32)
        y0 = max(0, y - half)
        y1 = min(h - 1, y + half)
        best = 0
        best_bin = 0
        for x in range(w):
            dirty = False
            if x == 0:
                for yy in range(y0, y1 + 1):
                    for xx in range(0, min(w - 1, half) + 1):
                        b = levels[yy, xx]
                        hist[b] += 1
                        for c in range(3):
                            sums[b, c] += np.float32(image[yy, xx, c])
                dirty = True
            else:
                xr = x - half - 1
                if xr >= 0:
                    for yy in range(y0, y1 + 1):
                        b = levels[yy, xr]
                        hist[b] -= 1
                        for c in range(3):
                            sums[b, c] -= np.float32(image[yy, xr, c])
                        if b == best_bin:
                            dirty = True
                xa = x + half
                if xa < w:
                    for yy in range(y0, y1 + 1):
                        b = levels[yy, xa]
                        hist[b] += 1
                        for c in range(3):
                            sums[b, c] += np.float32(image[yy, xa, c])
                        if not dirty:
                            n = hist[b]
                            if n > best or (n == best and b < best_bin):
                                best = n
                                best_bin = b
            if dirty:
                best = hist[0]
                best_bin = 0
                for b in range(1, nbins):
                    if hist[b] > best:
                        best = hist[b]
                        best_bin = b
            n = np.float32(best)
            for c in range(3):
                v = np.rint(sums[best_bin, c] / n)
                out[y, x, c] = np.uint8(min(255.0, max(0.0, v)))
    return out


@numba.njit(parallel=True, **_JIT)
def pencil_finish(
    image: np.ndarray,
    counts_x: np.ndarray,
    counts_y: np.ndarray,
    lut: np.ndarray,
    shade: np.float32,
    color: bool,
) -> np.ndarray:
    """Turn window counts into the gray or colour pencil image.

    ``pen = shade * (counts_x + counts_y)`` is the sketch (OpenCV's
    ``sketch.convertTo(CV_8U, 255)``); for colour it replaces the luma of the
    photo in YCrCb (OpenCV's float coefficients) and converts back to BGR.

    Returns:
        ``HxWx3`` uint8 (three equal channels for gray).
    """
    h, w = counts_x.shape
    out = np.empty((h, w, 3), np.uint8)
    k255 = np.float32(255.0)
    half = np.float32(0.5)
    for i in numba.prange(h):
        for j in range(w):
            pen = shade * (counts_x[i, j] + counts_y[i, j])
            if not color:
                v = min(np.float32(255.0), max(np.float32(0.0), np.rint(pen * k255)))
                g = np.uint8(v)
                out[i, j, 0] = g
                out[i, j, 1] = g
                out[i, j, 2] = g
                continue
            b = lut[image[i, j, 0]]
            gg = lut[image[i, j, 1]]
            r = lut[image[i, j, 2]]
            y = np.float32(0.299) * r + np.float32(0.587) * gg + np.float32(0.114) * b
            cr = (r - y) * np.float32(0.713) + half
            cb = (b - y) * np.float32(0.564) + half
            ob = pen + np.float32(1.773) * (cb - half)
            og = pen - np.float32(0.714) * (cr - half) - np.float32(0.344) * (cb - half)
            orr = pen + np.float32(1.403) * (cr - half)
            out[i, j, 0] = np.uint8(min(k255, max(np.float32(0.0), np.rint(ob * k255))))
            out[i, j, 1] = np.uint8(min(k255, max(np.float32(0.0), np.rint(og * k255))))
            out[i, j, 2] = np.uint8(
                min(k255, max(np.float32(0.0), np.rint(orr * k255)))
            )
    return out
