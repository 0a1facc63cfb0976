"""Style implementations on fast primitives.

The built-in OpenCV looks (``cv2.pencilSketch``, ``cv2.stylization``,
``cv2.xphoto.oilPainting``) are single-threaded, memory hungry, and the photo
module's normalized-convolution filter keeps pixel indices in float32, which
corrupts the blue channel above ~5.6 MP. The same maths is rebuilt here:

* watercolour = the normalized-convolution domain transform of the photo
  module (box filter in domain space, 3 iterations of a horizontal then a
  vertical pass; Numba, 16-bit fixed-point buffer, exact integer box sums),
  then the built-in's edge step (``1 - sum_c |Sobel(res_c)|``);
* pencil / colour pencil = window counts in domain space (Numba, two-pointer
  sweep, exact float32 arithmetic of OpenCV) -> sketch, luma swap in YCrCb;
* oil = exact ``xphoto.oilPainting`` with an incrementally tracked mode
  (Numba);
* cartoon = the same NC smoothing (2 iterations) + per-channel quantisation
  + dark outlines from the Sobel magnitude of the smoothed luma.

Every kernel works on the whole image (no bands): the only full-size
intermediate is the 6-byte-per-pixel smoothing buffer (or 2-byte counts for
the pencil).
"""

from __future__ import annotations

import math
import threading
from types import ModuleType

import cv2
import numpy as np

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

_SIGMA_R_MIN = 1e-3  # sigma_r = 0 would divide by zero in the domain transform
_SIGMA_S_MIN = 1e-2  # below this the smoothing is the identity


# Numba's threading layers may abort the process when two threads enter
# parallel kernels at once: serialise them (each call already uses every core).
_KERNEL_LOCK = threading.Lock()


def _kernels() -> ModuleType:
    """Import the Numba kernels on first use.

    Importing Numba (LLVM) costs ~130 MB of RSS and ~0.5 s: processes that
    only decode, inspect or list styles (the web server) never pay it.
    """
    from processing import kernels

    return kernels


# --- watercolour (cv2.stylization) -------------------------------------------


def _nc_smooth(image: np.ndarray, sigma_s: float, sigma_r: float, iterations: int):
    """Normalized-convolution domain transform of ``image`` (uint8 HxWx3).

    Returns the filtered image as HxWx3 uint16 fixed point (``v * 65535`` for
    ``v`` in 0..1): half the memory of float32, 1/257 of an 8-bit step.
    ``sigma_h`` halves at every iteration exactly as in OpenCV's
    ``Domain_Filter::filter``; each iteration is a horizontal then a vertical
    box filter in domain space.
    """
    kernels = _kernels()
    h, w = image.shape[:2]
    buf = np.empty((h, w, 3), np.uint16)
    if sigma_s < _SIGMA_S_MIN or iterations < 1:
        kernels.nc_load(image, buf)
        return buf
    ratio = np.float32(np.float32(sigma_s) / np.float32(max(sigma_r, _SIGMA_R_MIN)))
    inc = np.float32(1.0) + (np.arange(766) / 255.0).astype(np.float32) * ratio
    inc = inc.astype(np.float32)
    # 1 / window size, float64 (the same bits as dividing in the kernel)
    inv = np.zeros(max(h, w) + 2)
    inv[1:] = 1.0 / np.arange(1, max(h, w) + 2)
    nthreads = kernels.numba.get_num_threads()
    for i in range(iterations):
        sigma_h = np.float32(
            sigma_s
            * math.sqrt(3.0)
            * 2.0 ** (iterations - (i + 1))
            / math.sqrt(4.0**iterations - 1)
        )
        radius = np.float32(np.float32(math.sqrt(3.0)) * sigma_h)
        kernels.nc_rows(image, buf, inc, radius, inv, i == 0)
        kernels.nc_cols(image, buf, inc, radius, inv, nthreads)
    return buf


def watercolor(image: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    """Watercolour: ``cv2.stylization``, same maths, fast and correct at any size.

    Edge-preserving normalized-convolution smoothing (3 iterations, Numba,
    16-bit fixed-point buffer, exact integer box sums), then darkening by
    ``1 - sum_c |Sobel(res_c)|``. No float32 index overflow, so no blue
    stripes above ~5.6 MP; peak extra memory is 6 bytes per pixel.

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
    src = np.ascontiguousarray(image)
    with _KERNEL_LOCK:
        buf = _nc_smooth(src, sigma_s, sigma_r, 3)
        return _kernels().stylize_edges(buf)


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
        kernels = _kernels()
        counts_y = kernels.window_counts_cols(src, _UNIT_LUT, ratio, radius)
        for wanted, is_color in ((gray, False), (color, True)):
            if not wanted:
                continue
            result = kernels.pencil_rows(
                src, counts_y, _UNIT_LUT, ratio, radius, shade, is_color
            )
            if is_color:
                color_out = result
            else:
                gray_out = result
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
    src = np.ascontiguousarray(image)
    gray = cv2.cvtColor(src, cv2.COLOR_BGR2GRAY)
    # round(gray / dyn_ratio) through a table: no float64 copy of the image.
    table = np.rint(np.arange(256) * (1.0 / dyn_ratio)).astype(np.uint8)
    levels = cv2.LUT(gray, table)
    del gray
    nbins = int(levels.max()) + 1
    with _KERNEL_LOCK:
        return _kernels().oil_rows(src, levels, int(size), nbins)


# --- cartoon -----------------------------------------------------------------


def cartoon(
    image: np.ndarray,
    sigma_s: float,
    sigma_r: float,
    levels: int,
    line_width: int,
    edge_threshold: float,
) -> np.ndarray:
    """Cartoon: flat colour regions with dark outlines.

    The NC domain transform (2 iterations) smooths inside regions while
    keeping edges; a lookup table quantises each channel to ``levels`` tones;
    where the 3x3 Sobel magnitude of the smoothed luma exceeds
    ``edge_threshold`` (as a fraction of a full black/white step) the pixel
    is darkened to a quarter, after dilation to ``line_width`` pixels.

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: 0..200; sigma_r: 0..1; levels: 2..16; line_width: 0..10
            (0 = no outlines); edge_threshold: 0.01..1.
    """
    src = np.ascontiguousarray(image)
    step = 256.0 / levels
    lut = np.clip(np.floor(np.arange(256) / step) * step + step / 2.0, 0, 255)
    lut = lut.astype(np.uint8)
    with _KERNEL_LOCK:
        kernels = _kernels()
        buf = _nc_smooth(src, sigma_s, sigma_r, 2)
        mask = None
        if line_width > 0:
            # Sobel of a 0..255 luma step peaks at 4*255; threshold in 16-bit.
            threshold = np.float32(edge_threshold * 255.0 * 257.0)
            mask = kernels.cartoon_edges(buf, threshold)
        out = kernels.cartoon_paint(buf, lut)
        del buf  # the largest intermediate goes before the outlines are drawn
        if mask is not None:
            if line_width > 1:
                kernel = cv2.getStructuringElement(
                    cv2.MORPH_ELLIPSE, (line_width, line_width)
                )
                mask = cv2.dilate(mask, kernel)
            kernels.darken(out, mask)
        return out
