"""Style implementations on fast primitives.

The built-in OpenCV looks (``cv2.pencilSketch``, ``cv2.stylization``,
``cv2.xphoto.oilPainting``) are single-threaded, memory hungry, and the photo
module's normalized-convolution filter keeps pixel indices in float32, which
corrupts the blue channel above ~5.6 MP. The same maths is rebuilt here:

* watercolour = ``cv2.ximgproc.dtFilter`` (same domain transform, NC mode) run
  in overlapping row bands on two threads, then the built-in's edge mask
  (3x3 Sobel magnitude of each channel, ``1 - sum``), per band;
* pencil / colour pencil = window counts in domain space (Numba, two-pointer
  sweep, exact float32 arithmetic of OpenCV) -> sketch, luma swap in YCrCb;
* oil = exact ``xphoto.oilPainting`` with an incrementally tracked mode
  (Numba);
* cartoon = recursive domain-transform smoothing + per-channel quantisation +
  dark outlines from the Sobel magnitude of the smoothed luma.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from processing import kernels

__all__ = [
    "cartoon",
    "color_pencil",
    "oil",
    "pencil",
    "pencil_sketch",
    "watercolor",
]

# v / 255 in float32, rounded exactly as OpenCV's convertTo(CV_32F, 1/255).
_UNIT_LUT = (np.arange(256, dtype=np.float64) * (1.0 / 255.0)).astype(np.float32)

# Band size for the domain-transform filters: bounds memory (dtFilter NC needs
# ~20 bytes per pixel on top of its float32 input) and lets two bands run on
# the two cores at once.
_BAND_PIXELS = 3_000_000
_THREADS = max(1, min(2, os.cpu_count() or 1))
_POOL: ThreadPoolExecutor | None = None

_SIGMA_R_MIN = 1e-3  # sigma_r = 0 would divide by zero in the domain transform
_SIGMA_S_MIN = 1e-2  # below this the smoothing is the identity


# Numba's default "workqueue" threading layer aborts the process when two
# threads enter parallel kernels at once: serialise them (each call already
# uses every core).
_KERNEL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="bands")
    return _POOL


def _forget_pool_after_fork() -> None:
    # Threads do not survive fork (rq forks a work horse per job).
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _nc_reach(sigma_s: float) -> int:
    """Rows a 3-iteration NC domain-transform filter can reach.

    Box radii are sqrt(3)*sigma_h per iteration, sigma_h halving each time,
    and domain coordinates grow by at least 1 per pixel, so the total reach
    is at most 3*sigma_s*(4+2+1)/sqrt(63) ~ 2.65 sigma_s pixels.
    """
    return int(math.ceil(3.0 * sigma_s * 7.0 / math.sqrt(63.0))) + 4


def _run_bands(
    image: np.ndarray,
    overlap: int,
    work: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Apply ``work`` (HxWx3 uint8 -> HxWx3 uint8) in overlapping row bands.

    Each band is processed with ``overlap`` extra rows above and below, and
    only its core rows are kept, so a filter whose reach is at most
    ``overlap`` rows gives the same pixels as on the whole image.
    """
    h, w = image.shape[:2]
    if h * w <= _BAND_PIXELS or h <= 2 * overlap + 16:
        return work(image)
    core = max(16, _BAND_PIXELS // max(w, 1) - 2 * overlap)
    # Even number of bands keeps both cores busy to the end.
    count = math.ceil(h / core)
    if count % 2 and _THREADS > 1:
        count += 1
    edges = [round(i * h / count) for i in range(count + 1)]
    out = np.empty_like(image)

    def one(index: int) -> None:
        a, b = edges[index], edges[index + 1]
        a0, b0 = max(0, a - overlap), min(h, b + overlap)
        result = work(image[a0:b0])
        out[a:b] = result[a - a0 : a - a0 + (b - a)]

    for future in [_pool().submit(one, i) for i in range(count)]:
        future.result()
    return out


# --- watercolour (cv2.stylization) -------------------------------------------


def _stylize_band(band: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    h, w = band.shape[:2]
    src = band.astype(np.float32)
    src *= np.float32(1.0 / 255.0)
    if sigma_s >= _SIGMA_S_MIN:
        res = cv2.ximgproc.dtFilter(
            band,
            src,
            float(sigma_s),
            float(max(sigma_r, _SIGMA_R_MIN) * 255.0),
            mode=cv2.ximgproc.DTF_NC,
            numIters=3,
        )
    else:
        res = src
    del src
    gx = cv2.Sobel(res, cv2.CV_32F, 1, 0, ksize=3).reshape(h, w * 3)
    gy = cv2.Sobel(res, cv2.CV_32F, 0, 1, ksize=3).reshape(h, w * 3)
    mag = cv2.magnitude(gx, gy).reshape(h, w, 3)
    del gx, gy
    edge = mag[..., 0] + mag[..., 1]
    edge += mag[..., 2]
    del mag
    np.subtract(np.float32(1.0), edge, out=edge)
    res *= edge[..., None]
    return _to_u8(res)


def _to_u8(values: np.ndarray, scale: float = 255.0) -> np.ndarray:
    """``convertTo(CV_8U, scale)``: scale, round half to even, saturate.

    Works in place on ``values`` (a float32 scratch array).
    """
    values *= np.float32(scale)
    np.rint(values, out=values)
    np.clip(values, 0, 255, out=values)
    return values.astype(np.uint8)


def watercolor(image: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    """Watercolour: ``cv2.stylization`` rebuilt on ``ximgproc.dtFilter``.

    Edge-preserving normalized-convolution smoothing (3 iterations), then
    darkening by ``1 - sum_c |Sobel(res_c)|``; banded, two threads, correct
    at every size.

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: spatial extent, 0..200.
        sigma_r: range sigma, 0..1 (clamped to 0.001 internally).

    Returns:
        ``HxWx3`` uint8.
    """
    h, w = image.shape[:2]
    if h < 2 or w < 2:
        return image.copy()  # what cv2.stylization does

    def work(band: np.ndarray) -> np.ndarray:
        return _stylize_band(band, sigma_s, sigma_r)

    return _run_bands(image, _nc_reach(sigma_s) + 2, work)


# --- pencil (cv2.pencilSketch) ----------------------------------------------


def pencil_sketch(
    image: np.ndarray,
    sigma_s: float,
    sigma_r: float,
    shade_factor: float,
    *,
    gray: bool = True,
    color: bool = True,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Both pencil outputs of ``cv2.pencilSketch``, computed exactly.

    OpenCV's result depends only on its first iteration: the number of
    pixels within radius ``sqrt(3) * sigma_h`` (``sigma_h = sigma_s * sqrt(3)
    * 4 / sqrt(63)``) in domain-transform space along the row plus along the
    column, times ``shade_factor``. Counted with a Numba two-pointer sweep.

    Returns:
        ``(gray, color)``, each ``HxWx3`` uint8 (gray has equal channels), or
        ``None`` for an output that was not requested.
    """
    ratio = np.float32(np.float32(sigma_s) / np.float32(max(sigma_r, _SIGMA_R_MIN)))
    sigma_h = np.float32(sigma_s * math.sqrt(3.0) * 4.0 / math.sqrt(63.0))
    radius = np.float32(np.float32(math.sqrt(3.0)) * sigma_h)
    src = np.ascontiguousarray(image)
    shade = np.float32(shade_factor)
    gray_out = color_out = None
    with _KERNEL_LOCK:
        transposed = cv2.transpose(src)
        counts_y = cv2.transpose(
            kernels.window_counts_rows(transposed, _UNIT_LUT, ratio, radius)
        )
        del transposed
        counts_x = kernels.window_counts_rows(src, _UNIT_LUT, ratio, radius)
        if gray:
            gray_out = kernels.pencil_finish(
                src, counts_x, counts_y, _UNIT_LUT, shade, False
            )
        if color:
            color_out = kernels.pencil_finish(
                src, counts_x, counts_y, _UNIT_LUT, shade, True
            )
    return gray_out, color_out


def pencil(
    image: np.ndarray, sigma_s: float, sigma_r: float, shade_factor: float
) -> np.ndarray:
    """Gray pencil sketch (``cv2.pencilSketch`` first output, 3 equal channels).

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: 0..200; sigma_r: 0..1; shade_factor: 0..0.1.
    """
    return pencil_sketch(image, sigma_s, sigma_r, shade_factor, color=False)[0]


def color_pencil(
    image: np.ndarray, sigma_s: float, sigma_r: float, shade_factor: float
) -> np.ndarray:
    """Colour pencil sketch (``cv2.pencilSketch`` second output).

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: 0..200; sigma_r: 0..1; shade_factor: 0..0.1.
    """
    return pencil_sketch(image, sigma_s, sigma_r, shade_factor, gray=False)[1]


# --- oil (cv2.xphoto.oilPainting) --------------------------------------------


def oil(image: np.ndarray, size: int, dyn_ratio: int) -> np.ndarray:
    """Oil painting, pixel-identical to ``cv2.xphoto.oilPainting``.

    Luminance (``COLOR_BGR2GRAY``) is quantised to ``round(gray/dyn_ratio)``;
    each pixel takes the mean colour of the pixels of its ``2*size+1`` square
    window whose level is the most frequent. Numba kernel, rows in parallel.

    Args:
        image: ``HxWx3`` uint8 BGR.
        size: window half-size, 1..15.
        dyn_ratio: luminance divisor, 1..127.
    """
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)
    levels = np.rint(gray * (1.0 / dyn_ratio)).astype(np.uint8)
    del gray
    nbins = int(levels.max()) + 1
    with _KERNEL_LOCK:
        return kernels.oil_rows(np.ascontiguousarray(image), levels, int(size), nbins)


# --- cartoon -----------------------------------------------------------------


def _cartoon_band(
    band: np.ndarray,
    sigma_s: float,
    sigma_r: float,
    levels: int,
    line_width: int,
    edge_threshold: float,
) -> np.ndarray:
    if sigma_s >= _SIGMA_S_MIN:
        smooth = cv2.ximgproc.dtFilter(
            band,
            band,
            float(sigma_s),
            float(max(sigma_r, _SIGMA_R_MIN) * 255.0),
            mode=cv2.ximgproc.DTF_RF,
            numIters=3,
        )
    else:
        smooth = band.copy()
    # Quantise each channel to `levels` tones, centred in their bins.
    step = 256.0 / levels
    lut = np.clip(np.floor(np.arange(256) / step) * step + step / 2.0, 0, 255).astype(
        np.uint8
    )
    flat = cv2.LUT(smooth, lut)
    if line_width > 0:
        luma = cv2.cvtColor(smooth, cv2.COLOR_BGR2GRAY)
        gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
        mag = cv2.magnitude(gx, gy)
        del gx, gy
        # Sobel of a 0..255 step edge peaks at 4*255.
        edges = (mag > np.float32(edge_threshold * 4.0 * 255.0 * 0.25)).astype(np.uint8)
        if line_width > 1:
            kernel = cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (line_width, line_width)
            )
            edges = cv2.dilate(edges, kernel)
        mask = edges.astype(bool)
        flat[mask] = flat[mask] // 4
    return flat


def cartoon(
    image: np.ndarray,
    sigma_s: float,
    sigma_r: float,
    levels: int,
    line_width: int,
    edge_threshold: float,
) -> np.ndarray:
    """Cartoon: flat colour regions with dark outlines.

    ``ximgproc.dtFilter`` (recursive mode) smooths inside regions while
    keeping edges; ``cv2.LUT`` quantises each channel to ``levels`` tones;
    where the 3x3 Sobel magnitude of the smoothed luma exceeds
    ``edge_threshold`` (as a fraction of a full black/white step) the pixel
    is darkened to a quarter, after dilation to ``line_width`` pixels.

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: 0..200; sigma_r: 0..1; levels: 2..16; line_width: 0..10
            (0 = no outlines); edge_threshold: 0.01..1.
    """
    reach = int(math.ceil(3.0 * sigma_s)) + line_width + 4

    def work(band: np.ndarray) -> np.ndarray:
        return _cartoon_band(band, sigma_s, sigma_r, levels, line_width, edge_threshold)

    return _run_bands(image, reach, work)
