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
* cartoon = Winnemoeller et al.'s real-time abstraction: the same NC
  smoothing (2 iterations), soft tanh quantisation of the luma, and
  flow-based XDoG outlines (Numba);
* ink wash = the same smoothing and lines as ink tones, dry-brush line
  breaks and rice-paper texture (Numba);
* ``keep_colors`` and ``strength`` of every style (:func:`keep_photo_colors`,
  :func:`blend_with_photo`).

Memory (issue 14): the only full-size intermediates are the
6-byte-per-pixel smoothing buffer, which the watercolour's result and the
cartoon's colours and luma are written over (the pages read and not yet
rewritten given back as the split goes, the dead rest afterwards:
:func:`_split_over_buffer`, :func:`_drop_pages`), and the ink wash's 2-byte
luma; the outlines' DoG is made in bands of rows; the pencil keeps its
2-byte counts in its own output until each pixel is drawn. Freed
temporaries of a few MB are given back (:func:`release_heap`) before the
next large allocation, which glibc would otherwise place beside them.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import math
import mmap
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

import cv2
import numpy as np

__all__ = [
    "blend_with_photo",
    "recipe_seed",
    "release_heap",
    "release_input",
    "cartoon",
    "color_pencil",
    "ink_wash",
    "keep_photo_colors",
    "oil",
    "pencil",
    "pencil_sketch",
    "watercolor",
]

# v / 255 in float32, rounded exactly as OpenCV's convertTo(CV_32F, 1/255).
_UNIT_LUT = (np.arange(256, dtype=np.float64) * (1.0 / 255.0)).astype(np.float32)

_SIGMA_R_MIN = 1e-3  # sigma_r = 0 would divide by zero in the domain transform
_SIGMA_S_MIN = 1e-2  # below this the smoothing is the identity


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(
        ctypes.util.find_library("c") or "libc.so.6"
    )
    _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
    _LIBC.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
except (OSError, AttributeError):  # not glibc
    _LIBC = None
_MADV_DONTNEED = 4  # Linux

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


def release_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's
    ``malloc_trim(0)``; a no-op elsewhere).

    glibc raises its mmap threshold to the size of the largest block freed
    (up to 32 MB), so a style's freed temporaries of a few MB each stay
    resident in the heap: a style calls this before its next full-size
    allocation, which would otherwise come on top of them. Costs a few
    milliseconds at most.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def recipe_seed(*parts: object) -> np.uint64:
    """A 64-bit seed from the recipe: the same parts give the same seed anywhere.

    Args:
        *parts: the style slug, its parameters and the image size
            (anything whose ``repr`` is stable: str, int, float, tuples).

    Returns:
        ``np.uint64`` from BLAKE2b of the parts' ``repr`` (not Python's
        salted ``hash``, not a global generator, not the clock).
    """
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


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
    # Always read-only (as ``render`` hands the styles their input): a
    # writable array is another type to Numba, compiled or loaded from its
    # cache in the job itself (LLVM: ~40 MB and a fraction of a second),
    # as ink wash's shrunk copy did on every 12 MP job.
    image = image.view()
    image.flags.writeable = False
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


def _over_buffer(buf: np.ndarray) -> np.ndarray:
    """An ``HxWx3`` uint8 view of the first half of the smoothing buffer
    ``buf`` (``HxWx3`` uint16): a result written there needs no array of
    its own (it keeps the buffer's memory alive while it lives)."""
    h, w = buf.shape[:2]
    return buf.reshape(-1).view(np.uint8)[: h * w * 3].reshape(h, w, 3)


#: Rows per band of :func:`_split_over_buffer`.
_SPLIT_BAND = 128


def _split_over_buffer(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`processing.kernels.split_luma` written over the smoothing
    buffer ``buf`` (``HxWx3`` uint16) itself: the same colours and luma,
    no new full-size array.

    The colours go to the first half of the buffer (:func:`_over_buffer`),
    the uint16 luma to the ``2 * H * W`` bytes after them (from an even
    byte ``offset``). Bands of rows are split top to bottom
    (:func:`processing.kernels.split_luma_band`); a luma row can land only
    once the rows of ``buf`` under its bytes are read, so rows wait in a
    ring of ``H / 2`` rows plus a band and 2 (at most that many wait at
    once). As the bands go, the pages of the buffer that are read and not
    yet written again, and those of the ring rows that have landed, are
    given back (:func:`_drop_pages`): what is resident never exceeds the
    buffer's own 6 bytes a pixel by more than a band, instead of 2 bytes a
    pixel more for a separate luma array (24 MB at 12 MP). The buffer's
    last sixth is dead afterwards, its pages given back too.

    Returns:
        ``(color, luma, offset)``: views of ``buf``'s memory.
    """
    kernels = _kernels()
    h, w = buf.shape[:2]
    n = h * w
    offset = 3 * n + n % 2
    flat = buf.reshape(-1).view(np.uint8)
    color = flat[: 3 * n].reshape(h, w, 3)
    luma = flat[offset : offset + 2 * n].view(np.uint16).reshape(h, w)
    band = _SPLIT_BAND
    ring = np.empty((min(h, h // 2 + band + 2), w), np.uint16)
    scratch = np.empty((min(h, band), w, 3), np.uint8)
    size = len(ring)
    done = 0  # luma rows [0, done) are in place
    for a in range(0, h, band):
        b = min(h, a + band)
        kernels.split_luma_band(buf, color, ring, scratch, a, b)
        # rows [0, b) of buf are read: bytes [0, 6 * b * w) are free
        ready = b if b == h else min(b, (6 * b * w - offset) // (2 * w))
        while done < ready:
            slot = done % size
            rows = min(ready - done, size - slot)
            luma[done : done + rows] = ring[slot : slot + rows]
            _drop_pages(ring, 2 * slot * w, 2 * (slot + rows) * w)
            done += rows
        # read and not written again yet: after the colours, up to the
        # luma that has landed, and after it
        low = max(6 * a * w, 3 * b * w)
        _drop_pages(buf, low, min(6 * b * w, offset))
        _drop_pages(buf, max(low, offset + 2 * done * w), 6 * b * w)
    _drop_pages(buf, offset + 2 * n, buf.nbytes)
    return color, luma, offset


def _drop_pages(buf: np.ndarray, start: int, stop: int) -> None:
    """Give back to the system the memory pages wholly inside bytes
    ``start`` to ``stop`` of the C-contiguous array ``buf``, whose contents
    there are dead: a view of another part of ``buf`` (a result written
    over a work buffer) keeps the whole buffer allocated, but no longer
    resident. Reading those bytes afterwards gives zeros. Linux
    (``madvise(MADV_DONTNEED)``) only; a no-op elsewhere.
    """
    if _LIBC is None or not sys.platform.startswith("linux"):
        return
    page = mmap.PAGESIZE
    base = buf.ctypes.data
    first = -(-(base + start) // page) * page
    last = (base + stop) // page * page
    if last > first:
        _LIBC.madvise(
            ctypes.c_void_p(first), ctypes.c_size_t(last - first), _MADV_DONTNEED
        )


#: The input the render running in this thread may destroy, if its caller
#: gave it up (``processing.render(..., consume=True)``).
_GIVEN_UP = threading.local()


@contextlib.contextmanager
def input_given_up(image: np.ndarray | None) -> Iterator[None]:
    """While rendering, ``image`` (C-contiguous: what the style is handed)
    is the caller's no longer: :func:`release_input` may give its pages
    back. None: the caller keeps it."""
    _GIVEN_UP.image = image
    try:
        yield
    finally:
        _GIVEN_UP.image = None


def release_input() -> None:
    """The style reads its input no more. If the caller gave it up
    (:func:`input_given_up`), its pages go back to the system now
    (:func:`_drop_pages`): at 12 MP, the 36 MB photo is not resident beside
    the canvas and buffers the rest of the style builds. Reading the input
    afterwards gives zeros, so a style calls this only where it is done
    with it (``test_styles`` renders every style both ways and compares).
    Otherwise a no-op."""
    image = getattr(_GIVEN_UP, "image", None)
    if image is not None:
        _GIVEN_UP.image = None
        _drop_pages(image, 0, image.nbytes)


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
        release_input()
        out = _over_buffer(buf)
        _kernels().stylize_edges(buf, out)
        # the result holds the whole buffer: its dead half need not stay
        # resident while the result is encoded
        _drop_pages(buf, out.nbytes, buf.nbytes)
        return out


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
    h, w = src.shape[:2]
    with _KERNEL_LOCK:
        kernels = _kernels()
        # The column counts live in the output itself until each pixel is
        # drawn: 2 bytes a pixel less at the peak (24 MB at 12 MP).
        first = np.empty((h, w, 3), np.uint8)
        kernels.window_counts_cols(src, _UNIT_LUT, ratio, radius, first)
        second = None
        if gray and color:
            second = np.empty((h, w, 3), np.uint8)
            second[..., :2] = first[..., :2]
        if gray:
            gray_out = first
            kernels.pencil_rows(src, first, _UNIT_LUT, ratio, radius, shade, False)
        if color:
            color_out = first if second is None else second
            kernels.pencil_rows(src, color_out, _UNIT_LUT, ratio, radius, shade, True)
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
    release_heap()  # the 12 MB of grey, before the result
    nbins = int(levels.max()) + 1
    with _KERNEL_LOCK:
        return _kernels().oil_rows(src, levels, int(size), nbins)


# --- cartoon (Winnemoeller, Olsen, Gooch 2006) and ink wash ------------------


def double_angle_tensor(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The structure tensor's double-angle form, [gx*gx - gy*gy, 2*gx*gy],
    as one 2-channel float32 image. Written straight into its two
    channels, with ``gy`` as scratch (the caller's gradients are spent):
    two planes alive besides the gradients, not three; the float32
    operations are those of the plain expression (doubling is exact), so
    the pixels are the same."""
    tensor = np.empty((*gx.shape, 2), np.float32)
    np.multiply(gx, gx, out=tensor[..., 0])
    np.multiply(gx, gy, out=tensor[..., 1])
    tensor[..., 1] *= np.float32(2.0)
    np.multiply(gy, gy, out=gy)
    np.subtract(tensor[..., 0], gy, out=tensor[..., 0])
    return tensor


def _flow_field(luma: np.ndarray) -> tuple[np.ndarray, float]:
    """Unit edge tangents from the smoothed structure tensor, downscaled.

    Edge directions change slowly, so the tensor of the luma's ``Sobel``
    gradients is made at ``1 / f`` of the size (``INTER_AREA``, ``f`` =
    long side / 1024, at least 1) and smoothed there (``GaussianBlur``,
    sigma 2): the tangent is the eigenvector of the smaller eigenvalue.

    Returns:
        ``(tangent, 1 / f)``: float32 ``h x w x 2`` ``(tx, ty)`` and the
        scale from image to field coordinates.
    """
    h, w = luma.shape
    f = max(1, round(max(h, w) / 1024))
    small = luma
    if f > 1:
        small = cv2.resize(luma, (-(-w // f), -(-h // f)), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    del small
    tensor = double_angle_tensor(gx, gy)
    del gx, gy
    tensor = cv2.GaussianBlur(tensor, (0, 0), 2.0)
    # planes of their own: cv2 would copy the strided channels anyway (and
    # cv2.split makes its planes twice over, a transient 2 planes more)
    tx = np.ascontiguousarray(tensor[..., 0])
    ty = np.ascontiguousarray(tensor[..., 1])
    del tensor
    release_heap()  # freed planes stay in glibc's heap otherwise
    _, angle = cv2.cartToPolar(tx, ty)
    del _, tx, ty
    angle *= 0.5  # gradient -> tangent
    angle += np.float32(math.pi / 2)
    x, y = cv2.polarToCart(np.ones_like(angle), angle)
    del angle
    release_heap()
    return cv2.merge([x, y]), 1.0 / f


def _gauss_taps(sigma: float, reach: float, max_taps: int) -> tuple[np.ndarray, float]:
    """Normalised Gaussian taps out to ``reach * sigma``, at most ``2 * max_taps + 1``.

    Returns ``(weights, step)``: the taps are ``step`` px apart (1 px, or
    more for wide kernels so that the cost stays bounded).
    """
    step = max(1.0, reach * sigma / max_taps)
    k = max(1, math.ceil(reach * sigma / step))
    x = np.arange(-k, k + 1) * step
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum(), step


def _soft_steps(sharp_lo: float, sharp_hi: float, delta: float) -> np.ndarray:
    """Table of Winnemoeller's soft steps for :func:`processing.kernels._soft_quantise`.

    Row ``r`` of 17 has sharpness ``k`` from ``sharp_lo`` to ``sharp_hi``;
    column ``c`` of 129 is ``x = c / 128 - 0.5``; the entry is ``delta / 2 *
    tanh(k * x) / tanh(k / 2)`` (float32). A table instead of two ``tanh``
    per pixel: 12 MP of them cost more than the smoothing.
    """
    k = np.linspace(sharp_lo, sharp_hi, 17)[:, None]
    x = np.linspace(-0.5, 0.5, 129)[None, :]
    return (0.5 * delta * np.tanh(k * x) / np.tanh(k / 2)).astype(np.float32)


#: Rows per strip of :func:`_difference_of_gaussians`.
_DOG_STRIP = 256


def _difference_of_gaussians(
    image: np.ndarray,
    sigma: float,
    sigma_wide: float,
    tau: float,
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """``G_sigma * image - tau * G_sigma_wide * image`` (float32), in strips of rows.

    ``cv2.GaussianBlur`` (reflect-101 borders) of strips of
    :data:`_DOG_STRIP` rows plus a margin of the wide kernel's radius, so
    that only one float image is allocated (the result): 12 MP of float32
    is 48 MB a copy. The pixels are those of blurring the whole image, the
    margin rows being dropped. Only rows ``start`` to ``stop`` (default: all)
    are made and returned.
    """
    h = image.shape[0]
    stop = h if stop is None else stop
    out = np.empty((stop - start, *image.shape[1:]), np.float32)
    margin = math.ceil(4 * sigma_wide) + 2
    for r0 in range(start, stop, _DOG_STRIP):
        r1 = min(stop, r0 + _DOG_STRIP)
        a, b = max(0, r0 - margin), min(h, r1 + margin)
        strip = image[a:b].astype(np.float32)
        if image.dtype == np.uint16:
            strip *= np.float32(1.0 / 257.0)  # fixed-point luma -> grey levels
        narrow = cv2.GaussianBlur(strip, (0, 0), sigma)
        wide = cv2.GaussianBlur(strip, (0, 0), sigma_wide)
        cv2.scaleAdd(wide, -tau, narrow, dst=narrow)
        out[r0 - start : r1 - start] = narrow[r0 - a : r0 - a + (r1 - r0)]
    return out


#: Rows per band of the outlines (:func:`_flow_dog`).
_LINE_BAND = 128


def _flow_dog(luma: np.ndarray, line_width: float):
    """XDoG's edge response of ``luma`` and what its along-flow pass needs.

    Kang's flow-based DoG (used by XDoG, Winnemoeller et al. 2012) is a 1-D
    DoG across the edge tangent, then a 1-D Gaussian along it. Here the
    first pass is the isotropic DoG (two ``cv2.GaussianBlur``, ``sigma_c =
    0.6 * line_width``, ``k = 1.6``, ``tau = 0.99``; for ``sigma_c`` above
    3 px on a copy downscaled by ``sigma_c / 1.5`` and upscaled linearly,
    so that wide lines cost what thin ones do): the luma it works on
    is already edge-aware smoothed, so there is no texture across which an
    isotropic kernel would respond differently, and OpenCV's vectorised
    blur costs a fraction of 13 bilinear taps per pixel. The second pass is
    kept: a Gaussian (``sigma_m = 1.5 + 0.5 * sigma_c``, at most 17 taps)
    along the tangent of the smoothed structure tensor
    (:func:`_flow_field`), which joins broken edges into lines and drops
    isolated specks. It follows the local tangent in a straight line rather
    than a curved streamline: over its +-2 sigma_m (3-8 px) a streamline
    hardly bends.

    The response is made in bands of :data:`_LINE_BAND` rows (plus the
    reach of the along-flow pass) as the finishing kernel needs them, not
    as one full-size float image (48 MB at 12 MP); wide lines, made on a
    downscaled copy, come as one band.

    Returns:
        ``(bands, tangent, inv_scale, along_weights, along_step)``:
        ``bands`` yields ``(row0, row1, dog, dog_row0)``, the DoG response
        ``dog`` from image row ``dog_row0`` on, for finishing rows ``row0``
        to ``row1``.
    """
    sigma_c = 0.6 * line_width
    tangent, inv_scale = _flow_field(luma)
    h, w = luma.shape
    f = max(1, int(sigma_c / 1.5))
    along, along_step = _gauss_taps(1.5 + 0.5 * sigma_c, 2.0, 8)
    # rows the along-flow pass reads beyond its own (bilinear: one more)
    reach = math.ceil(along_step * ((len(along) - 1) // 2)) + 2

    def bands():
        if f > 1:  # wide lines: blur a downscaled copy, the cost stays flat
            small = cv2.resize(
                luma, (-(-w // f), -(-h // f)), interpolation=cv2.INTER_AREA
            )
            dog = _difference_of_gaussians(small, sigma_c / f, 1.6 * sigma_c / f, 0.99)
            del small
            yield 0, h, cv2.resize(dog, (w, h), interpolation=cv2.INTER_LINEAR), 0
            return
        for r0 in range(0, h, _LINE_BAND):
            r1 = min(h, r0 + _LINE_BAND)
            a, b = max(0, r0 - reach), min(h, r1 + reach)
            yield (
                r0,
                r1,
                _difference_of_gaussians(luma, sigma_c, 1.6 * sigma_c, 0.99, a, b),
                a,
            )

    return bands(), tangent, inv_scale, along.astype(np.float32), along_step


def cartoon(
    image: np.ndarray,
    sigma_s: float,
    sigma_r: float,
    levels: int,
    line_width: int,
    edge_threshold: float,
) -> np.ndarray:
    """Cartoon after Winnemoeller, Olsen and Gooch, "Real-Time Video Abstraction" (2006).

    1. Edge-aware smoothing: the normalized-convolution domain transform
       (2 iterations, :func:`_nc_smooth`) flattens texture inside regions
       and keeps their borders.
    2. Soft luminance quantisation: the luma is pulled towards ``levels``
       tones with tanh ramps instead of hard steps, sharper where the
       gradient is strong and soft on smooth shading
       (:func:`processing.kernels._soft_quantise`, continuous at every bin
       border), so skies do not band and skin does not blotch; the same
       shift goes to B, G and R, which keeps the chroma.
    3. Outlines: the flow-based XDoG of the smoothed luma
       (:func:`_flow_dog`, Winnemoeller et al. 2012) with its soft tanh
       threshold, so lines are anti-aliased, follow the edges and thin out
       smoothly instead of breaking into dots.

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: smoothing extent in pixels, 0..200.
        sigma_r: smoothing range, 0..1 (higher blends more colours).
        levels: luminance tones, 2..16.
        line_width: outline width in pixels, 0..10 (0: no outlines).
        edge_threshold: 0.01..1; the DoG response (grey levels) below which
            a line starts is ``-20 * edge_threshold``.

    Returns:
        ``HxWx3`` uint8.
    """
    src = np.ascontiguousarray(image)
    h, w = src.shape[:2]
    with _KERNEL_LOCK:
        kernels = _kernels()
        buf = _nc_smooth(src, sigma_s, sigma_r, 2)
        release_input()
        # the colours and the luma are written over the smoothing buffer:
        # no new array; the buffer's last sixth is free from then on, and
        # the luma's third once the colours are finished
        out, luma, offset = _split_over_buffer(buf)
        lines = line_width > 0 and h > 1 and w > 1
        bands, tangent, inv_scale, along, step = _line_bands(luma, line_width, lines)
        for row0, row1, dog, dog_row0 in bands:
            kernels.cartoon_finish(
                out,
                luma,
                dog,
                tangent,
                np.float32(inv_scale),
                np.float32(step),
                along,
                np.float32(255.0 / (levels - 1)),
                _soft_steps(3.5, 10.0, 255.0 / (levels - 1)),
                np.float32(20.0 * edge_threshold),
                np.float32(0.5),
                lines,
                row0,
                row1,
                dog_row0,
            )
            del dog
        del bands, luma
        _drop_pages(buf, offset, offset + 2 * h * w)
        return out


def _line_bands(luma: np.ndarray, line_width: int, lines: bool):
    """:func:`_flow_dog` of ``luma``, or one band of no lines."""
    if lines:
        return _flow_dog(luma, line_width)
    tangent = np.zeros((1, 1, 2), np.float32)
    tangent[..., 0] = 1.0
    bands = [(0, luma.shape[0], np.zeros((1, 1), np.float32), 0)]
    return bands, tangent, 1.0, np.ones(1, np.float32), 1.0


#: Above this many pixels the ink washes are smoothed at half size.
_INK_HALF_PIXELS = 4_000_000


def ink_wash(
    image: np.ndarray,
    sigma_s: float,
    line_width: int,
    ink: float,
    dry_brush: float,
    color_wash: float,
    paper_texture: float,
) -> np.ndarray:
    """Chinese ink wash painting (水墨): soft ink washes, dry-brush lines, rice paper.

    1. The NC domain transform (:func:`_nc_smooth`, 2 iterations,
       ``sigma_r`` 0.25) turns the photo into broad washes; above 4 MP on
       a copy shrunk by 2 (``INTER_AREA``, ``sigma_s / 2``) and enlarged
       again (``INTER_LINEAR``): a quarter of the cost and memory, and
       washes have no detail to lose.
    2. Their luma becomes ink: five soft tones (tanh ramps, as in the
       cartoon), darker with ``ink``.
    3. Lines: the flow-based DoG (:func:`_flow_dog`) of the washes, drawn
       like a brush that runs dry: streak noise stretched along the edge
       direction breaks the line into bristle marks.
    4. Paper: warm off-white with fibres and mottling (value noise; grain
       size follows ``line_width`` so previews scale with it); ink darkens
       it multiplicatively; ``color_wash`` lets some of the photo's
       colour through.

    Args:
        image: ``HxWx3`` uint8 BGR.
        sigma_s: wash extent in pixels, 0..200.
        line_width: brush line width in pixels, 0..20 (0: no lines).
        ink: 0..1, depth of the washes.
        dry_brush: 0..1, how much the lines break up.
        color_wash: 0..1, share of the photo's chroma kept.
        paper_texture: 0..1, contrast of the paper's fibres.

    Returns:
        ``HxWx3`` uint8. Deterministic (the noise is seeded from the
        parameters and the image size).
    """
    src = np.ascontiguousarray(image)
    h, w = src.shape[:2]
    seed = recipe_seed("ink_wash", h, w, float(sigma_s), int(line_width))
    grain = max(1.0, 0.5 * line_width)
    # numpy is pinned, so PCG64's stream for a seed is the same everywhere
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    with _KERNEL_LOCK:
        kernels = _kernels()
        if h * w > _INK_HALF_PIXELS:
            # Washes have no detail a half-size smoothing would lose: smooth
            # a copy shrunk by 2 (sigma_s / 2) and enlarge the result.
            small = cv2.resize(
                src, (-(-w // 2), -(-h // 2)), interpolation=cv2.INTER_AREA
            )
            release_input()
            buf = _nc_smooth(small, sigma_s / 2, 0.25, 2)
            del small
            small_out = np.empty(buf.shape, np.uint8)
            small_luma = kernels.split_luma(buf, small_out)
            del buf
            release_heap()  # the freed smoothing buffer, before the 24 MB
            luma = cv2.resize(small_luma, (w, h), interpolation=cv2.INTER_LINEAR)
            del small_luma
        else:
            buf = _nc_smooth(src, sigma_s, 0.25, 2)
            release_input()
            out = np.empty((h, w, 3), np.uint8)
            luma = kernels.split_luma(buf, out)
            del buf
            small_out = None
        lines = line_width > 0 and h > 1 and w > 1
        bands, tangent, inv_scale, along, step = _line_bands(luma, line_width, lines)
        if small_out is not None:
            # enlarged once the flow field is made: its temporaries and
            # the 36 MB of colours are never alive at once
            release_heap()
            out = cv2.resize(small_out, (w, h), interpolation=cv2.INTER_LINEAR)
            del small_out
        mottle = rng.random((64, 64), np.float32)
        fibres = rng.random((128, 128), np.float32)
        for row0, row1, dog, dog_row0 in bands:
            kernels.ink_finish(
                out,
                luma,
                dog,
                tangent,
                np.float32(inv_scale),
                np.float32(step),
                along,
                _soft_steps(4.0, 8.0, 255.0 / 4.0),
                mottle,
                fibres,
                np.float32(ink),
                np.float32(dry_brush),
                np.float32(color_wash),
                np.float32(paper_texture),
                np.float32(grain),
                np.float32(2.0),
                lines,
                seed,
                row0,
                row1,
                dog_row0,
            )
            del dog
        return out


# --- generic: keep the photo's colours, strength -----------------------------


def keep_photo_colors(photo: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """The style's lightness with the photo's colour (``keep_colors``).

    Both images go to YCrCb (``cv2.cvtColor``, BT.601, 8-bit); the result
    has the luma Y of ``styled`` and the chroma Cr, Cb of ``photo``, back in
    BGR (colours outside the RGB cube are clipped by the conversion). Luma
    and chroma are separated as in JPEG and in the colour pencil; YCrCb
    rather than L*a*b* because the whole swap costs ~3 ms per megapixel
    against ~15 for L*a*b*, and a cheap style must stay cheap with it. A
    gray style thus becomes a sketch tinted with the photo's colours.

    Args:
        photo, styled: ``HxWx3`` uint8 BGR of the same size; ``styled`` is
            overwritten (it is the render's own new array), ``photo`` is not.

    Returns:
        ``styled``, now holding the result.
    """
    chroma = cv2.cvtColor(photo, cv2.COLOR_BGR2YCrCb)
    cv2.cvtColor(styled, cv2.COLOR_BGR2YCrCb, dst=styled)
    # the photo's Cr, Cb under the style's Y: channel 0 of styled stays
    cv2.mixChannels([chroma], [styled], [1, 1, 2, 2])
    del chroma
    cv2.cvtColor(styled, cv2.COLOR_YCrCb2BGR, dst=styled)
    return styled


def blend_with_photo(
    photo: np.ndarray, styled: np.ndarray, strength: float
) -> np.ndarray:
    """``photo + round(strength * (styled - photo))`` per channel (``strength``).

    Integer arithmetic through a 511-entry table of ``round(strength * d)``
    for every difference ``d``: ``strength`` 1 gives ``styled`` exactly, 0
    gives ``photo`` exactly, and each pixel moves monotonically from one to
    the other as ``strength`` grows. Numba kernel, rows in parallel.

    Args:
        photo, styled: ``HxWx3`` uint8 of the same size; ``styled`` is
            overwritten, ``photo`` is not.
        strength: 0..1.

    Returns:
        ``styled``, now holding the blend.
    """
    diffs = np.arange(-255, 256, dtype=np.float64)
    table = (np.sign(diffs) * np.floor(np.abs(diffs) * strength + 0.5)).astype(np.int16)
    with _KERNEL_LOCK:
        _kernels().blend_toward(styled, photo, table)
    return styled
