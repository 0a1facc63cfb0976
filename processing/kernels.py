"""Numba kernels: the per-pixel loops that have no fast OpenCV primitive.

* :func:`window_counts_cols` + :func:`pencil_rows` - the pencil sketch of
  OpenCV's photo module (``cv::pencilSketch``) is, once unrolled,
  ``shade_factor`` times the number of pixels that fall inside a box of
  radius ``r`` in domain-transform space, horizontally plus vertically.
  OpenCV finds those bounds with float32 index arithmetic and a linear scan
  per pixel; a two-pointer sweep per line does the same in O(n). Vertical
  counts are kept as uint16, row counts are fused into the output kernel.
* :func:`nc_rows` / :func:`nc_cols` / :func:`stylize_edges` -
  ``cv::stylization``: normalized-convolution domain transform (box filter
  in domain space, horizontal then vertical, 3 iterations) on a 16-bit
  fixed-point buffer, then the Sobel edge darkening. Also the smoothing of
  the cartoon and ink wash styles.
* :func:`oil_rows` - ``cv::xphoto::oilPainting``: sliding-window histogram of
  quantised luminance, mode bin, mean colour of that bin. The built-in scans
  all 256 bins for every pixel; here the mode is tracked incrementally and
  the bins are only rescanned, between bounds of the occupied levels, when
  the mode bin loses a pixel.

* :func:`split_luma`, :func:`flow_dog`, :func:`cartoon_finish`,
  :func:`ink_finish` - Winnemoeller's abstraction: soft tanh quantisation
  and the flow-based XDoG (across the edge, then along it).
* :func:`impressionist_strokes`, :func:`pointillism_dots`,
  :func:`paint_strokes`, :func:`canvas_weave` - stroke-based painting:
  Hertzmann's curved strokes and Seurat's dots planned per grid cell in
  parallel (randomness from a counter-based hash of the recipe's seed),
  then painted in order by bands of rows.
* :func:`blend_toward` - the ``strength`` of every style.

Compiled code is cached (``cache=True``). Numba looks for a writable cache
directory in this order: ``NUMBA_CACHE_DIR`` when set; ``__pycache__`` next
to this file; Numba's per-user cache (``~/.cache/numba`` or
``$XDG_CACHE_HOME/numba``) when the package directory is read-only. If none
is writable, caching is switched off and every process compiles the kernels
once (~20-50 s): in read-only containers set ``NUMBA_CACHE_DIR`` to a
writable path (the Dockerfile does, and fills it at build time), and call
:func:`processing.warm_up` in the parent of forked workers, after
:func:`processing.fill_kernel_cache` (a cold cache is filled in a child: a
compile leaves ~240 MB of LLVM's heap in the process that ran it).
Kernels run rows (or column strips) in parallel on all cores with the
fork-safe ``workqueue`` threading layer.
"""

from __future__ import annotations

import os

import numba
import numpy as np

# rq forks a work horse per job after the parent has warmed the kernels up:
# GNU OpenMP (Numba's "omp" layer) kills a forked child that uses it again,
# TBB is not installed; "workqueue" is fork-safe. It is not safe for two
# threads at once, which the callers' lock prevents. NUMBA_THREADING_LAYER
# still wins when set.
if not os.environ.get("NUMBA_THREADING_LAYER"):
    numba.config.THREADING_LAYER = "workqueue"


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


def cache_is_cold() -> bool:
    """True when Numba's cache lacks a kernel of this source: a
    :func:`processing.warm_up` here would compile it, not load it (and a
    compile leaves ~240 MB of LLVM's heap in the process, which every job
    process it forks inherits). False when caching is off: there is
    nothing to fill. Reads Numba's cache index files (Numba is pinned)."""
    if not _JIT["cache"]:
        return False
    from numba.core.caching import FunctionCache
    from numba.core.registry import CPUDispatcher

    for value in list(globals().values()):
        cache = getattr(value, "_cache", None)
        if not isinstance(value, CPUDispatcher) or not isinstance(cache, FunctionCache):
            continue
        try:
            if not cache._cache_file._load_index():
                return True
        except Exception:  # noqa: BLE001 - an unreadable index is a cold one
            return True
    return False


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
        pixels whose level is the most frequent one (lowest level on ties,
        as ``std::max_element``).

    The built-in sums colours in float32; every partial sum is an integer
    below 2**24 (at most 961 * 255), so int32 sums give the same bits. The
    mode is tracked while pixels are added; when the mode bin loses a pixel
    the bins are rescanned, but only between ``lo`` and ``hi``, bounds of
    the occupied levels (widened on insertion, tightened lazily at a
    rescan): a window of a photo spans a few dozen levels, not 256.
    """
    h, w = image.shape[0], image.shape[1]
    out = np.empty((h, w, 3), np.uint8)
    for y in numba.prange(h):
        hist = np.zeros(nbins, np.int32)
        sums = np.zeros((nbins, 3), np.int32)
        y0 = max(0, y - half)
        y1 = min(h - 1, y + half)
        lo = nbins - 1
        hi = 0
        # columns 0..half-1; column x + half is added at each x below
        for yy in range(y0, y1 + 1):
            for xx in range(0, min(w, half)):
                b = levels[yy, xx]
                hist[b] += 1
                lo = min(lo, b)
                hi = max(hi, b)
                for c in range(3):
                    sums[b, c] += np.int32(image[yy, xx, c])
        best = 0
        best_bin = 0
        for x in range(w):
            dirty = x == 0
            xr = x - half - 1
            if xr >= 0:
                for yy in range(y0, y1 + 1):
                    b = levels[yy, xr]
                    hist[b] -= 1
                    for c in range(3):
                        sums[b, c] -= np.int32(image[yy, xr, c])
                    dirty |= b == best_bin
            xa = x + half
            if xa < w:
                for yy in range(y0, y1 + 1):
                    b = levels[yy, xa]
                    hist[b] += 1
                    lo = min(lo, b)
                    hi = max(hi, b)
                    for c in range(3):
                        sums[b, c] += np.int32(image[yy, xa, c])
                    if not dirty:
                        n = hist[b]
                        if n > best or (n == best and b < best_bin):
                            best = n
                            best_bin = b
            if dirty:
                while hist[lo] == 0:
                    lo += 1
                while hist[hi] == 0:
                    hi -= 1
                best = hist[lo]
                best_bin = lo
                for b in range(lo + 1, hi + 1):
                    if hist[b] > best:
                        best = hist[b]
                        best_bin = b
            n = np.float32(best)
            for c in range(3):
                v = np.rint(np.float32(sums[best_bin, c]) / n)
                out[y, x, c] = np.uint8(min(255.0, max(0.0, v)))
    return out


# --- normalized-convolution domain transform (cv2.stylization) ---------------


@numba.njit(parallel=True, **_JIT)
def nc_load(image: np.ndarray, buf: np.ndarray) -> None:
    """``buf = round(image / 255 * 65535)``: uint8 -> 16-bit fixed point."""
    h, w = image.shape[0], image.shape[1]
    for i in numba.prange(h):
        for j in range(w):
            for c in range(3):
                buf[i, j, c] = np.uint16(image[i, j, c]) * np.uint16(257)


@numba.njit(inline="always")
def _nc_sweep(ct, lo, hi, q_lo, q_hi):
    """Advance the window pointers to the first ``ct > q_lo`` / ``ct > q_hi``."""
    lo += ct[lo] <= q_lo
    hi += ct[hi] <= q_hi
    lo += ct[lo] <= q_lo
    hi += ct[hi] <= q_hi
    while ct[lo] <= q_lo:
        lo += 1
    while ct[hi] <= q_hi:
        hi += 1
    return lo, hi


@numba.njit(inline="always")
def _nc_mean(vals, pre, inv, j, lo, hi):
    """``vals[j] = round(mean of the window lo..hi-1)`` from the prefix sums."""
    f = inv[hi - lo]
    vals[j, 0] = np.uint16(np.float64(np.uint32(pre[hi, 0] - pre[lo, 0])) * f + 0.5)
    vals[j, 1] = np.uint16(np.float64(np.uint32(pre[hi, 1] - pre[lo, 1])) * f + 0.5)
    vals[j, 2] = np.uint16(np.float64(np.uint32(pre[hi, 2] - pre[lo, 2])) * f + 0.5)


@numba.njit(inline="always")
def _nc_line(px, vals, inc, radius, ct, pre, inv):
    """NC box filter of one line (row or column), in place on ``vals``.

    ``px`` (n x 3 uint8) is the line of the original image, ``vals`` (n x 3
    uint16) the values being filtered. The domain coordinate is the float32
    ``cumsum(1 + ratio * sum_c |I[j] - I[j-1]| / 255)`` (``inc`` holds the
    increment for each integer L1 difference 0..765); pixel ``j`` becomes
    the mean of the pixels ``k`` with ``ct[j] - r < ct[k] <= ct[j] + r``.

    Box sums are exact: uint32 prefix sums, differenced modulo 2**32 (a
    window spans at most ``2 * r + 1`` pixels, a few hundred, of at most
    65535 each, far below 2**32). ``ct`` has room
    for a ``+inf`` sentinel at ``n``, so the pointer sweeps need no bound
    check; their first two steps are branch-free (the step count varies
    from pixel to pixel, and mispredicted branches dominate the sweep).
    ``inv[m]`` is ``1.0 / m`` in float64, the same bits as the division.
    """
    n = px.shape[0]
    acc = np.float32(1.0)
    ct[0] = acc
    s0 = np.uint32(vals[0, 0])
    s1 = np.uint32(vals[0, 1])
    s2 = np.uint32(vals[0, 2])
    pre[0, 0] = 0
    pre[0, 1] = 0
    pre[0, 2] = 0
    pre[1, 0] = s0
    pre[1, 1] = s1
    pre[1, 2] = s2
    for j in range(1, n):
        k = (
            abs(np.int32(px[j, 0]) - np.int32(px[j - 1, 0]))
            + abs(np.int32(px[j, 1]) - np.int32(px[j - 1, 1]))
            + abs(np.int32(px[j, 2]) - np.int32(px[j - 1, 2]))
        )
        acc = acc + inc[k]
        ct[j] = acc
        s0 += np.uint32(vals[j, 0])
        s1 += np.uint32(vals[j, 1])
        s2 += np.uint32(vals[j, 2])
        pre[j + 1, 0] = s0
        pre[j + 1, 1] = s1
        pre[j + 1, 2] = s2
    ct[n] = np.float32(np.inf)
    # Four quarters of the line swept in the same loop: each pointer step
    # waits on the load it follows, independent chains overlap. ``ct`` is
    # non-decreasing, so a binary search puts the pointers of a quarter's
    # first pixel exactly where the sweep from 0 would. The last quarter
    # also takes the n % 4 pixels left over.
    q = n // 4
    lo0 = 0
    hi0 = 0
    lo1 = np.searchsorted(ct[:n], ct[q] - radius, side="right")
    hi1 = np.searchsorted(ct[:n], ct[q] + radius, side="right")
    lo2 = np.searchsorted(ct[:n], ct[2 * q] - radius, side="right")
    hi2 = np.searchsorted(ct[:n], ct[2 * q] + radius, side="right")
    lo3 = np.searchsorted(ct[:n], ct[3 * q] - radius, side="right")
    hi3 = np.searchsorted(ct[:n], ct[3 * q] + radius, side="right")
    for j in range(q):
        j1 = j + q
        j2 = j1 + q
        j3 = j2 + q
        lo0, hi0 = _nc_sweep(ct, lo0, hi0, ct[j] - radius, ct[j] + radius)
        lo1, hi1 = _nc_sweep(ct, lo1, hi1, ct[j1] - radius, ct[j1] + radius)
        lo2, hi2 = _nc_sweep(ct, lo2, hi2, ct[j2] - radius, ct[j2] + radius)
        lo3, hi3 = _nc_sweep(ct, lo3, hi3, ct[j3] - radius, ct[j3] + radius)
        _nc_mean(vals, pre, inv, j, lo0, hi0)
        _nc_mean(vals, pre, inv, j1, lo1, hi1)
        _nc_mean(vals, pre, inv, j2, lo2, hi2)
        _nc_mean(vals, pre, inv, j3, lo3, hi3)
    for j in range(4 * q, n):
        lo3, hi3 = _nc_sweep(ct, lo3, hi3, ct[j] - radius, ct[j] + radius)
        _nc_mean(vals, pre, inv, j, lo3, hi3)


@numba.njit(parallel=True, **_JIT)
def nc_rows(
    image: np.ndarray,
    buf: np.ndarray,
    inc: np.ndarray,
    radius: np.float32,
    inv: np.ndarray,
    load: bool,
) -> None:
    """One horizontal NC box-filter pass over ``buf`` (HxWx3 uint16, in place).

    With ``load``, each row of ``buf`` is first set to its image row in 16-bit
    fixed point (:func:`nc_load`) while it is in cache.
    """
    h, w = image.shape[0], image.shape[1]
    for i in numba.prange(h):
        if load:
            for j in range(w):
                for c in range(3):
                    buf[i, j, c] = np.uint16(image[i, j, c]) * np.uint16(257)
        ct = np.empty(w + 1, np.float32)
        pre = np.empty((w + 1, 3), np.uint32)
        _nc_line(image[i], buf[i], inc, radius, ct, pre, inv)


@numba.njit(parallel=True, **_JIT)
def nc_cols(
    image: np.ndarray,
    buf: np.ndarray,
    inc: np.ndarray,
    radius: np.float32,
    inv: np.ndarray,
    nthreads: int,
) -> None:
    """One vertical NC box-filter pass over ``buf`` (in place).

    Strips of ~32 columns are copied into column-major scratch (no
    transposed copy of the whole image), filtered line by line, and copied
    back. ``nthreads`` is ``numba.get_num_threads()`` of the caller (a
    kernel that calls it cannot be cached).
    """
    h, w = image.shape[0], image.shape[1]
    # ~32 columns a strip, a multiple of the thread count of strips, sizes
    # within one column of each other: every thread gets the same work.
    nstrips = max(1, (w // 32 + nthreads // 2) // nthreads) * nthreads
    nstrips = min(nstrips, w)
    for s in numba.prange(nstrips):
        j0 = s * w // nstrips
        sw = (s + 1) * w // nstrips - j0
        px = np.empty((sw, h, 3), np.uint8)
        vals = np.empty((sw, h, 3), np.uint16)
        for i in range(h):
            for jj in range(sw):
                for c in range(3):
                    px[jj, i, c] = image[i, j0 + jj, c]
                    vals[jj, i, c] = buf[i, j0 + jj, c]
        ct = np.empty(h + 1, np.float32)
        pre = np.empty((h + 1, 3), np.uint32)
        for jj in range(sw):
            _nc_line(px[jj], vals[jj], inc, radius, ct, pre, inv)
        for i in range(h):
            for jj in range(sw):
                for c in range(3):
                    buf[i, j0 + jj, c] = vals[jj, i, c]


@numba.njit(inline="always")
def _reflect101(k: int, n: int) -> int:
    if n == 1:
        return 0
    if k < 0:
        return -k
    if k >= n:
        return 2 * n - 2 - k
    return k


@numba.njit(inline="always")
def _sobel3(buf, iu, i, idn, jl, j, jr, c):
    """3x3 Sobel (gx, gy) of channel ``c`` at (i, j), neighbours given
    (up/down rows ``iu``/``idn``, left/right columns ``jl``/``jr``)."""
    gx = (
        np.int32(buf[iu, jr, c])
        + 2 * np.int32(buf[i, jr, c])
        + np.int32(buf[idn, jr, c])
        - np.int32(buf[iu, jl, c])
        - 2 * np.int32(buf[i, jl, c])
        - np.int32(buf[idn, jl, c])
    )
    gy = (
        np.int32(buf[idn, jl, c])
        + 2 * np.int32(buf[idn, j, c])
        + np.int32(buf[idn, jr, c])
        - np.int32(buf[iu, jl, c])
        - 2 * np.int32(buf[iu, j, c])
        - np.int32(buf[iu, jr, c])
    )
    return gx, gy


@numba.njit(inline="always")
def _stylize_px(buf, out, oi, iu, i, idn, jl, j, jr):
    """One pixel of :func:`stylize_edges` (neighbour indices given), to
    row ``oi`` of ``out``."""
    scale = np.float32(1.0 / 65535.0)
    k255 = np.float32(255.0)
    zero = np.float32(0.0)
    mag = np.float32(0.0)
    for c in range(3):
        gx, gy = _sobel3(buf, iu, i, idn, jl, j, jr, c)
        fx = np.float32(gx) * scale
        fy = np.float32(gy) * scale
        mag += np.sqrt(fx * fx + fy * fy)
    edge = np.float32(1.0) - mag
    for c in range(3):
        v = np.rint(np.float32(buf[i, j, c]) * scale * edge * k255)
        out[oi, j, c] = np.uint8(min(k255, max(zero, v)))


#: Rows per band of :func:`stylize_edges`.
_STYLIZE_BAND = 128


@numba.njit(parallel=True, **_JIT)
def stylize_edges(buf: np.ndarray, out: np.ndarray) -> None:
    """The edge step of ``cv2.stylization`` on the filtered image.

    ``out_c = res_c * (1 - sum_c |Sobel3x3(res_c)|)`` in float32 with
    reflect-101 borders, then ``convertTo(CV_8U, 255)``. The first and last
    columns are done apart so that the inner loop has no border logic.

    ``out`` (``HxWx3`` uint8) may be the first half of ``buf``'s own memory
    (the result written over the smoothing buffer, no third full-size
    array): bands of rows are computed in parallel into scratch, then
    copied, top to bottom. Band ``[a, b)`` lands on the bytes of ``buf``'s
    rows below ``b / 2 + 1``, and every later band reads rows from
    ``b - 1`` on; the first band has at least 2 rows, so nothing is read
    after it was overwritten.
    """
    h, w = buf.shape[0], buf.shape[1]
    band = max(2, _STYLIZE_BAND)
    scratch = np.empty((min(h, band), w, 3), np.uint8)
    for a in range(0, h, band):
        b = min(h, a + band)
        for i in numba.prange(a, b):
            iu = _reflect101(i - 1, h)
            idn = _reflect101(i + 1, h)
            o = i - a
            jl, jr = _reflect101(-1, w), _reflect101(1, w)
            _stylize_px(buf, scratch, o, iu, i, idn, jl, 0, jr)
            for j in range(1, w - 1):
                _stylize_px(buf, scratch, o, iu, i, idn, j - 1, j, j + 1)
            if w > 1:
                jr = _reflect101(w, w)
                _stylize_px(buf, scratch, o, iu, i, idn, w - 2, w - 1, jr)
        for i in numba.prange(a, b):
            out[i] = scratch[i - a]


@numba.njit(inline="always")
def _count_line(px, lut, ratio, radius, ct, counts):
    """Window counts of one line (OpenCV ``compute_boxfilter`` arithmetic)."""
    n = px.shape[0]
    one = np.float32(1.0)
    acc = one
    ct[0] = acc
    for j in range(1, n):
        d = np.float32(0.0)
        for c in range(3):
            d = d + abs(lut[px[j, c]] - lut[px[j - 1, c]])
        acc = acc + (one + d * ratio)
        ct[j] = acc
    lo = 0
    hi = 0
    for j in range(n):
        q_lo = ct[j] - radius
        q_hi = ct[j] + radius
        while lo < n and not ct[lo] > q_lo:
            lo += 1
        while hi < n and not ct[hi] > q_hi:
            hi += 1
        upper = hi
        if j == 0 and hi >= n:
            upper = 0
        lower = lo if lo < n else 0
        counts[j] = upper - lower


@numba.njit(parallel=True, **_JIT)
def window_counts_cols(
    image: np.ndarray,
    lut: np.ndarray,
    ratio: np.float32,
    radius: np.float32,
    out: np.ndarray,
) -> None:
    """Vertical window counts, strips of 16 columns, kept in ``out``.

    ``out`` is the ``HxWx3`` uint8 array the sketch will be written to: each
    pixel's count (at most ``H``, below 2**16) is stored in its first two
    bytes, low byte first, so no separate ``HxW`` array of counts exists
    (:func:`pencil_rows` reads a pixel's count just before it writes it).
    """
    h, w = image.shape[0], image.shape[1]
    strip = 16
    nstrips = (w + strip - 1) // strip
    for s in numba.prange(nstrips):
        j0 = s * strip
        sw = min(w, j0 + strip) - j0
        px = np.empty((sw, h, 3), np.uint8)
        for i in range(h):
            for jj in range(sw):
                for c in range(3):
                    px[jj, i, c] = image[i, j0 + jj, c]
        ct = np.empty(h, np.float32)
        counts = np.empty(h, np.int64)
        for jj in range(sw):
            _count_line(px[jj], lut, ratio, radius, ct, counts)
            for i in range(h):
                out[i, j0 + jj, 0] = np.uint8(counts[i] & 0xFF)
                out[i, j0 + jj, 1] = np.uint8(counts[i] >> 8)


@numba.njit(parallel=True, **_JIT)
def pencil_rows(
    image: np.ndarray,
    out: np.ndarray,
    lut: np.ndarray,
    ratio: np.float32,
    radius: np.float32,
    shade: np.float32,
    color: bool,
) -> None:
    """Row window counts + the column counts -> gray or colour pencil image.

    ``out`` holds the column counts of :func:`window_counts_cols` and
    receives the sketch, in place: each pixel's count is read before the
    pixel is written.

    ``pen = shade * (counts_x + counts_y)`` is the sketch (OpenCV's
    ``sketch.convertTo(CV_8U, 255)``); for colour it replaces the luma of the
    photo in YCrCb (OpenCV's float coefficients) and converts back to BGR.

    The sketch is ``HxWx3`` uint8 (three equal channels for gray).
    """
    h, w = image.shape[0], image.shape[1]
    k255 = np.float32(255.0)
    zero = np.float32(0.0)
    half = np.float32(0.5)
    for i in numba.prange(h):
        ct = np.empty(w, np.float32)
        counts = np.empty(w, np.int64)
        _count_line(image[i], lut, ratio, radius, ct, counts)
        for j in range(w):
            count_y = np.int64(out[i, j, 0]) | (np.int64(out[i, j, 1]) << 8)
            pen = shade * (np.float32(counts[j]) + np.float32(count_y))
            if not color:
                g = np.uint8(min(k255, max(zero, np.rint(pen * k255))))
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
            out[i, j, 0] = np.uint8(min(k255, max(zero, np.rint(ob * k255))))
            out[i, j, 1] = np.uint8(min(k255, max(zero, np.rint(og * k255))))
            out[i, j, 2] = np.uint8(min(k255, max(zero, np.rint(orr * k255))))


# --- brushwork: strokes and dots (impressionist, pointillism) ---------------
#
# Random choices come from a counter-based hash (splitmix64 of the recipe's
# seed and the stroke's own indices), never from a generator's state: the
# same stroke gets the same numbers whichever thread makes it and in any
# process.

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(inline="always")
def _mix64(x):
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@numba.njit(inline="always")
def _hash_unit(seed, a, b):
    """A number in [0, 1) that depends only on ``(seed, a, b)``."""
    x = _mix64(seed ^ _mix64(np.uint64(a) * _GOLD + np.uint64(b)))
    return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(inline="always")
def _sample3(img, xs, ys):
    """Bilinear sample of a float32 ``h x w x 3`` image at (xs, ys), clamped."""
    h, w = img.shape[0], img.shape[1]
    xs = min(max(xs, 0.0), w - 1.0)
    ys = min(max(ys, 0.0), h - 1.0)
    x0 = int(xs)
    y0 = int(ys)
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    fx = xs - x0
    fy = ys - y0
    a = (1.0 - fx) * (1.0 - fy)
    b = fx * (1.0 - fy)
    c = (1.0 - fx) * fy
    d = fx * fy
    v0 = (
        a * img[y0, x0, 0]
        + b * img[y0, x1, 0]
        + c * img[y1, x0, 0]
        + d * img[y1, x1, 0]
    )
    v1 = (
        a * img[y0, x0, 1]
        + b * img[y0, x1, 1]
        + c * img[y1, x0, 1]
        + d * img[y1, x1, 1]
    )
    v2 = (
        a * img[y0, x0, 2]
        + b * img[y0, x1, 2]
        + c * img[y1, x0, 2]
        + d * img[y1, x1, 2]
    )
    return v0, v1, v2


@numba.njit(inline="always")
def _sample2(img, xs, ys):
    """Bilinear sample of a float32 ``h x w x 2`` image at (xs, ys), clamped."""
    h, w = img.shape[0], img.shape[1]
    xs = min(max(xs, 0.0), w - 1.0)
    ys = min(max(ys, 0.0), h - 1.0)
    x0 = int(xs)
    y0 = int(ys)
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    fx = xs - x0
    fy = ys - y0
    a = (1.0 - fx) * (1.0 - fy)
    b = fx * (1.0 - fy)
    c = (1.0 - fx) * fy
    d = fx * fy
    v0 = (
        a * img[y0, x0, 0]
        + b * img[y0, x1, 0]
        + c * img[y1, x0, 0]
        + d * img[y1, x1, 0]
    )
    v1 = (
        a * img[y0, x0, 1]
        + b * img[y0, x1, 1]
        + c * img[y1, x0, 1]
        + d * img[y1, x1, 1]
    )
    return v0, v1


@numba.njit(inline="always")
def _jitter_color(b, g, r, u1, u2, u3, amount, saturate):
    """Value, hue and saturation jitter of a BGR colour (0..255 floats).

    ``u1..u3`` are uniform in [0, 1); the chroma (Cb, Cr of BT.601) is
    rotated by up to +-30 degrees * amount, scaled by ``saturate`` plus up
    to +-50 % * amount; luma moves by up to +-30 levels * amount.
    """
    y = 0.114 * b + 0.587 * g + 0.299 * r
    cb = b - y
    cr = r - y
    angle = (u1 - 0.5) * amount * 1.0472
    ca = np.cos(angle)
    sa = np.sin(angle)
    scale = saturate * (1.0 + (u2 - 0.5) * amount)
    cb2 = (ca * cb - sa * cr) * scale
    cr2 = (sa * cb + ca * cr) * scale
    y2 = y + (u3 - 0.5) * amount * 60.0
    b2 = y2 + cb2
    r2 = y2 + cr2
    g2 = (y2 - 0.114 * b2 - 0.299 * r2) / 0.587
    return (
        min(255.0, max(0.0, b2)),
        min(255.0, max(0.0, g2)),
        min(255.0, max(0.0, r2)),
    )


@numba.njit(parallel=True, **_JIT)
def impressionist_strokes(
    canvas: np.ndarray,
    ref: np.ndarray,
    grad: np.ndarray,
    inv_scale: float,
    radius: float,
    grid: int,
    cy0: int,
    cy1: int,
    max_pts: int,
    min_pts: int,
    curvature: float,
    threshold: float,
    clip: float,
    jitter: float,
    first: bool,
    seed: np.uint64,
    pts: np.ndarray,
    npts: np.ndarray,
    cols: np.ndarray,
) -> None:
    """Hertzmann's ``makeSplineStroke`` for the grid cells of rows ``cy0..cy1``.

    Args:
        canvas: ``H x W x 3`` uint8, the painting before this layer.
        ref: the layer's blurred reference, float32 ``h x w x 3`` at
            ``1 / inv_scale`` of the canvas size (sampled bilinearly).
        grad: its luminance gradient ``(gx, gy)``, float32 ``h x w x 2``.
        radius: brush radius in canvas pixels; control points are that far
            apart. grid: cell size in canvas pixels.
        max_pts / min_pts: most and fewest control points of a stroke.
        curvature: Hertzmann's filter constant ``fc`` (1 follows the
            gradient's normal at every point, 0 keeps the first direction).
        threshold: mean colour distance (Euclidean, 0..441) above which a
            cell gets a stroke (every cell when ``first``).
        clip: a stroke stops before a point whose reference colour is
            farther than this from the stroke's (Litwinowicz's clipping at
            edges, before the minimum length too).
        jitter: colour jitter amount 0..1 (:func:`_jitter_color`).
        pts, npts, cols: outputs per cell of the chunk (``cell = (cy - cy0)
            * ncx + cx``): control points ``(x, y)``, their count (0: no
            stroke), and the stroke's BGR colour.
    """
    h, w = canvas.shape[0], canvas.shape[1]
    ncx = (w + grid - 1) // grid
    ncells = (cy1 - cy0) * ncx
    # at most ~16 samples per cell, and a quarter of the pixels for small cells
    step = max(2, grid // 4)
    for cell in numba.prange(ncells):
        cy = cy0 + cell // ncx
        cx = cell % ncx
        npts[cell] = 0
        x_lo = cx * grid
        y_lo = cy * grid
        x_hi = min(x_lo + grid, w)
        y_hi = min(y_lo + grid, h)
        uid = np.uint64(cy) * np.uint64(65536) + np.uint64(cx)
        jx = _hash_unit(seed, uid, 1) - 0.5
        jy = _hash_unit(seed, uid, 2) - 0.5
        if first:
            x0 = 0.5 * (x_lo + x_hi) + 0.5 * jx * (x_hi - x_lo)
            y0 = 0.5 * (y_lo + y_hi) + 0.5 * jy * (y_hi - y_lo)
        else:
            total = 0.0
            count = 0
            best = -1.0
            bx = x_lo
            by = y_lo
            for y in range(y_lo + step // 2, y_hi, step):
                for x in range(x_lo + step // 2, x_hi, step):
                    rb, rg, rr = _sample3(
                        ref, (x + 0.5) * inv_scale - 0.5, (y + 0.5) * inv_scale - 0.5
                    )
                    db = rb - canvas[y, x, 0]
                    dg = rg - canvas[y, x, 1]
                    dr = rr - canvas[y, x, 2]
                    d = np.sqrt(db * db + dg * dg + dr * dr)
                    total += d
                    count += 1
                    if d > best:
                        best = d
                        bx = x
                        by = y
            if count == 0 or total / count <= threshold:
                continue
            x0 = bx + 0.5 + jx * step
            y0 = by + 0.5 + jy * step
        c0, c1, c2 = _sample3(ref, x0 * inv_scale - 0.5, y0 * inv_scale - 0.5)
        b, g, r = _jitter_color(
            c0,
            c1,
            c2,
            _hash_unit(seed, uid, 3),
            _hash_unit(seed, uid, 4),
            _hash_unit(seed, uid, 5),
            jitter,
            1.0 + 0.15 * jitter,
        )
        cols[cell, 0] = b
        cols[cell, 1] = g
        cols[cell, 2] = r
        pts[cell, 0, 0] = x0
        pts[cell, 0, 1] = y0
        n = 1
        x = x0
        y = y0
        ldx = 0.0
        ldy = 0.0
        clip2 = clip * clip
        while n < max_pts:
            xs = x * inv_scale - 0.5
            ys = y * inv_scale - 0.5
            rb, rg, rr = _sample3(ref, xs, ys)
            if n >= min_pts:
                xi = min(w - 1, max(0, int(x)))
                yi = min(h - 1, max(0, int(y)))
                db = rb - canvas[yi, xi, 0]
                dg = rg - canvas[yi, xi, 1]
                dr = rr - canvas[yi, xi, 2]
                to_canvas = db * db + dg * dg + dr * dr
                db = rb - b
                dg = rg - g
                dr = rr - r
                to_stroke = db * db + dg * dg + dr * dr
                if not first and to_canvas < to_stroke:
                    break
            gx, gy = _sample2(grad, xs, ys)
            mag = np.sqrt(gx * gx + gy * gy)
            if mag < 1e-3:
                if n == 1:
                    # flat area: a short straight stroke in a random direction
                    angle = 6.283185307179586 * _hash_unit(seed, uid, 6)
                    dx = np.cos(angle)
                    dy = np.sin(angle)
                else:
                    dx = ldx
                    dy = ldy
            else:
                dx = -gy / mag
                dy = gx / mag
                if ldx * dx + ldy * dy < 0.0:
                    dx = -dx
                    dy = -dy
                if n > 1:
                    dx = curvature * dx + (1.0 - curvature) * ldx
                    dy = curvature * dy + (1.0 - curvature) * ldy
                    norm = np.sqrt(dx * dx + dy * dy)
                    if norm < 1e-6:
                        break
                    dx /= norm
                    dy /= norm
            nx = x + radius * dx
            ny = y + radius * dy
            if nx < 0.0 or ny < 0.0 or nx >= w or ny >= h:
                break
            # Litwinowicz: do not paint across an edge of the reference.
            stop = False
            for frac in (0.5, 1.0):
                sb, sg, sr = _sample3(
                    ref,
                    (x + frac * (nx - x)) * inv_scale - 0.5,
                    (y + frac * (ny - y)) * inv_scale - 0.5,
                )
                db = sb - c0
                dg = sg - c1
                dr = sr - c2
                if db * db + dg * dg + dr * dr > clip2:
                    stop = True
            if stop:
                break
            pts[cell, n, 0] = nx
            pts[cell, n, 1] = ny
            n += 1
            x = nx
            y = ny
            ldx = dx
            ldy = dy
        npts[cell] = n


@numba.njit(inline="always")
def _row_span(ax, ay, bx, by, reach, y):
    """x interval of row ``y`` within ``reach`` of segment AB (may be empty)."""
    lo = 1e30
    hi = -1e30
    for px, py in ((ax, ay), (bx, by)):
        dy = y - py
        if abs(dy) < reach:
            half = np.sqrt(reach * reach - dy * dy)
            lo = min(lo, px - half)
            hi = max(hi, px + half)
    dx = bx - ax
    dy = by - ay
    length = np.sqrt(dx * dx + dy * dy)
    if length > 1e-6:
        ux = dx / length
        uy = dy / length
        # along: 0 <= (x - ax) ux + (y - ay) uy <= length
        # across: |(x - ax) uy - (y - ay) ux| <= reach
        a_lo = -1e30
        a_hi = 1e30
        c0 = (y - ay) * uy
        if abs(ux) > 1e-9:
            t0 = ax + (0.0 - c0) / ux
            t1 = ax + (length - c0) / ux
            a_lo = min(t0, t1)
            a_hi = max(t0, t1)
        elif not (0.0 <= c0 <= length):
            a_lo = 1e30
        c1 = (y - ay) * ux
        if abs(uy) > 1e-9:
            t0 = ax + (c1 - reach) / uy
            t1 = ax + (c1 + reach) / uy
            a_lo = max(a_lo, min(t0, t1))
            a_hi = min(a_hi, max(t0, t1))
        elif abs(c1) > reach:
            a_lo = 1e30
        if a_lo <= a_hi:
            lo = min(lo, a_lo)
            hi = max(hi, a_hi)
    return lo, hi


@numba.njit(parallel=True, **_JIT)
def paint_strokes(
    canvas: np.ndarray,
    pts: np.ndarray,
    starts: np.ndarray,
    cols: np.ndarray,
    radii: np.ndarray,
    seeds: np.ndarray,
    bristle: float,
    dry: float,
    band: int,
) -> None:
    """Paint strokes, in order, onto ``canvas`` (``H x W x 3`` uint8, in place).

    Stroke ``k`` is the polyline ``pts[starts[k]:starts[k+1]]`` (a single
    point is a round dab) swept by an anti-aliased round brush of radius
    ``radii[k]`` in colour ``cols[k]``. Across the stroke its value varies
    with the brush's bristles (``bristle`` = +-amplitude; one value per
    bristle from ``seeds[k]``); with ``dry`` > 0 the bristles run out of
    paint at different lengths near the stroke's end.

    Each pixel of the stroke is painted once: a segment paints the pixels
    whose projection falls on it, plus its end cap only where the next
    segment does not reach (the outside of a bend); the first segment paints
    the start cap. A row's pixels within reach of a segment are found
    analytically (:func:`_row_span`; for brushes of radius 6 px or less the
    segment's box is cheaper), and along/across coordinates advance
    incrementally along the row; the blend is 8-bit fixed point.

    Rows are split into bands of ``band`` rows painted in parallel; every
    band goes through all strokes in order, so the result does not depend
    on the number of threads.
    """
    h, w = canvas.shape[0], canvas.shape[1]
    nstrokes = starts.shape[0] - 1
    top = np.empty(nstrokes, np.int32)
    bottom = np.empty(nstrokes, np.int32)
    for k in numba.prange(nstrokes):
        lo = np.float32(1e30)
        hi = np.float32(-1e30)
        for p in range(starts[k], starts[k + 1]):
            lo = min(lo, pts[p, 1])
            hi = max(hi, pts[p, 1])
        reach = radii[k] + np.float32(1.0)
        top[k] = int(np.floor(lo - reach))
        bottom[k] = int(np.ceil(hi + reach))
    nbands = (h + band - 1) // band
    for bi in numba.prange(nbands):
        r0 = bi * band
        r1 = min(h, r0 + band)
        shades = np.empty((66, 3), np.int32)
        ends = np.empty(66, np.float32)
        for k in range(nstrokes):
            if bottom[k] < r0 or top[k] >= r1:
                continue
            radius = np.float32(radii[k])
            reach = radius + np.float32(0.5)
            p0 = starts[k]
            p1 = starts[k + 1]
            # bristles across the brush; a dab (one point) is one colour
            nb = min(64, max(3, int(radius * 0.7))) if p1 - p0 > 1 else 0
            for t in range(nb + 1):
                u = _hash_unit(np.uint64(seeds[k]), t, 7)
                gain = 1.0 + bristle * (u - 0.5)
                for c in range(3):
                    shades[t, c] = int(min(255.0, max(0.0, cols[k, c] * gain)) + 0.5)
                ends[t] = np.float32(1.0 - dry * (0.15 + 0.6 * u))
            total = np.float32(0.0)
            for p in range(p0, p1 - 1):
                dx = pts[p + 1, 0] - pts[p, 0]
                dy = pts[p + 1, 1] - pts[p, 1]
                total += np.sqrt(dx * dx + dy * dy)
            inv_total = np.float32(1.0) / max(total, np.float32(1e-6))
            use_dry = dry > 0.0 and p1 - p0 > 1
            bscale = np.float32(0.5 * nb) / radius
            done = np.float32(0.0)
            nseg = max(1, p1 - p0 - 1)
            for s in range(nseg):
                ax = pts[p0 + s, 0]
                ay = pts[p0 + s, 1]
                last = s == nseg - 1
                if p1 - p0 > 1:
                    bx = pts[p0 + s + 1, 0]
                    by = pts[p0 + s + 1, 1]
                else:
                    bx = ax
                    by = ay
                dx = bx - ax
                dy = by - ay
                length = np.sqrt(dx * dx + dy * dy)
                if length > 1e-6:
                    ux = dx / length
                    uy = dy / length
                else:
                    ux = np.float32(1.0)
                    uy = np.float32(0.0)
                # direction of the next segment (its pixels are not ours)
                vx = ux
                vy = uy
                if not last:
                    ex = pts[p0 + s + 2, 0] - bx
                    ey = pts[p0 + s + 2, 1] - by
                    el = np.sqrt(ex * ex + ey * ey)
                    if el > 1e-6:
                        vx = ex / el
                        vy = ey / el
                ya = max(r0, int(np.floor(min(ay, by) - reach)))
                yb = min(r1 - 1, int(np.ceil(max(ay, by) + reach)))
                exact = reach > 6.0  # small brushes: the box costs less
                for y in range(ya, yb + 1):
                    yc = np.float32(y + 0.5)
                    if exact:
                        lo, hi = _row_span(ax, ay, bx, by, reach, yc)
                    else:
                        lo = min(ax, bx) - reach
                        hi = max(ax, bx) + reach
                    xa = max(0, int(np.floor(lo - 0.5)))
                    xb = min(w - 1, int(np.ceil(hi - 0.5)))
                    if xa > xb:
                        continue
                    rx = np.float32(xa + 0.5) - ax
                    ry = yc - ay
                    along = rx * ux + ry * uy
                    across = rx * uy - ry * ux
                    nx0 = np.float32(xa + 0.5) - bx
                    ny0 = yc - by
                    ahead = nx0 * vx + ny0 * vy
                    for x in range(xa, xb + 1):
                        if along < 0.0:
                            if s > 0:
                                along += ux
                                across += uy
                                ahead += vx
                                continue
                            px = np.float32(x + 0.5) - ax
                            dist = np.sqrt(px * px + ry * ry)
                        elif along >= length:
                            if not last and ahead >= 0.0:
                                along += ux
                                across += uy
                                ahead += vx
                                continue
                            px = np.float32(x + 0.5) - bx
                            dist = np.sqrt(px * px + ny0 * ny0)
                        else:
                            dist = abs(across)
                        alpha = min(np.float32(1.0), reach - dist)
                        if alpha > 0.0:
                            ti = int(
                                (min(radius, max(-radius, across)) + radius) * bscale
                            )
                            if use_dry:
                                a_clamped = min(max(along, np.float32(0.0)), length)
                                pos = (done + a_clamped) * inv_total
                                if pos > ends[ti]:
                                    alpha *= max(
                                        np.float32(0.0),
                                        np.float32(1.0) - (pos - ends[ti]) * 8.0,
                                    )
                            a256 = int(alpha * 256.0 + 0.5)
                            if a256 > 0:
                                for c in range(3):
                                    old = np.int32(canvas[y, x, c])
                                    canvas[y, x, c] = np.uint8(
                                        old
                                        + ((a256 * (shades[ti, c] - old) + 128) >> 8)
                                    )
                        along += ux
                        across += uy
                        ahead += vx
                done += length


@numba.njit(parallel=True, **_JIT)
def canvas_weave(canvas: np.ndarray, period: np.float32, amount: np.float32) -> None:
    """Shade ``canvas`` in place with a plain canvas weave of ``period`` px.

    Threads alternate over and under (a checkerboard of warp and weft
    bumps, each ``sin(pi * t)`` across its thread); the value is multiplied
    by ``1 + 0.14 * amount * (bump - 0.6)``. The gains of every column and
    row are computed once.
    """
    h, w = canvas.shape[0], canvas.shape[1]
    inv = np.float32(1.0) / period
    scale = np.float32(0.14) * amount
    col_gain = np.empty(w, np.float32)
    col_odd = np.empty(w, np.int32)
    for x in range(w):
        fx = (x + np.float32(0.5)) * inv
        ix = int(fx)
        col_gain[x] = np.float32(1.0) + scale * (
            np.sin(np.float32(np.pi) * (fx - ix)) - np.float32(0.6)
        )
        col_odd[x] = ix % 2
    for y in numba.prange(h):
        fy = (y + np.float32(0.5)) * inv
        iy = int(fy)
        row_gain = np.float32(1.0) + scale * (
            np.sin(np.float32(np.pi) * (fy - iy)) - np.float32(0.6)
        )
        for x in range(w):
            gain = col_gain[x] if (col_odd[x] + iy) % 2 else row_gain
            for c in range(3):
                v = np.float32(canvas[y, x, c]) * gain + np.float32(0.5)
                canvas[y, x, c] = np.uint8(min(np.float32(255.0), v))


@numba.njit(parallel=True, **_JIT)
def blend_toward(styled: np.ndarray, photo: np.ndarray, table: np.ndarray) -> None:
    """``styled = photo + table[styled - photo + 255]`` in place (uint8 images)."""
    h, w = styled.shape[0], styled.shape[1]
    for i in numba.prange(h):
        for j in range(w):
            for c in range(3):
                p = np.int32(photo[i, j, c])
                d = np.int32(styled[i, j, c]) - p
                styled[i, j, c] = np.uint8(p + table[d + 255])


@numba.njit(parallel=True, **_JIT)
def pointillism_dots(
    ref: np.ndarray,
    detail: np.ndarray,
    inv_scale: float,
    grid: int,
    height: int,
    width: int,
    cy0: int,
    cy1: int,
    dot_size: float,
    shrink: float,
    density: float,
    jitter: float,
    seed: np.uint64,
    dots: np.ndarray,
    cols: np.ndarray,
) -> None:
    """Seurat's dots for the grid cells of rows ``cy0..cy1`` (at most one each).

    Args:
        ref: blurred photo, float32 ``h x w x 3`` BGR at ``1 / inv_scale``
            of the canvas (``height x width``); detail: float32 ``h x w``,
            0 (flat) .. 1 (busy), same size.
        grid: cell size in canvas pixels.
        dot_size: largest dot radius; shrink: 0..1, how much smaller dots
            get where ``detail`` is 1 (down to ``dot_size * (1 - 0.75 *
            shrink)``).
        density: coats of dots (~1.5 * density of the area is covered;
            darker colours get up to 3.5x more dots).
        jitter: 0..1, share of dots whose hue is moved to a neighbouring
            (+-35 deg, 25 % of dots at 1) or the complementary hue (10 %),
            and hue/value noise.
        dots: output ``(x, y, radius)`` per cell; radius 0 means no dot.
        cols: output BGR colour per cell: the reference colour with its
            chroma (BT.601 Cb/Cr) times 1.7: pure, saturated paint.
    """
    ncx = (width + grid - 1) // grid
    ncells = (cy1 - cy0) * ncx
    for cell in numba.prange(ncells):
        cy = cy0 + cell // ncx
        cx = cell % ncx
        dots[cell, 2] = 0.0
        uid = np.uint64(cy) * np.uint64(1048576) + np.uint64(cx)
        x = (cx + _hash_unit(seed, uid, 1)) * grid
        y = (cy + _hash_unit(seed, uid, 2)) * grid
        if x >= width or y >= height:
            continue
        xs = x * inv_scale - 0.5
        ys = y * inv_scale - 0.5
        hh, ww = detail.shape[0], detail.shape[1]
        xi = min(ww - 1, max(0, int(xs + 0.5)))
        yi = min(hh - 1, max(0, int(ys + 0.5)))
        radius = dot_size * (1.0 - 0.75 * shrink * detail[yi, xi])
        radius *= 0.85 + 0.3 * _hash_unit(seed, uid, 3)
        b, g, r = _sample3(ref, xs, ys)
        luma = 0.114 * b + 0.587 * g + 0.299 * r
        dark = 1.0 + 2.5 * (1.0 - luma / 255.0) ** 2
        spacing = 1.45 * radius / np.sqrt(density * dark)
        if _hash_unit(seed, uid, 4) * spacing * spacing >= grid * grid:
            continue
        pick = _hash_unit(seed, uid, 5)
        turn = (_hash_unit(seed, uid, 6) - 0.5) * jitter * 0.7
        gain = 1.7
        if pick < 0.1 * jitter:
            turn += np.pi  # complementary
            gain = 0.9
        elif pick < 0.35 * jitter:
            turn += 0.6 if pick < 0.225 * jitter else -0.6  # neighbours
        cb = b - luma
        cr = r - luma
        ca = np.cos(turn)
        sa = np.sin(turn)
        cb2 = (ca * cb - sa * cr) * gain
        cr2 = (sa * cb + ca * cr) * gain
        y2 = luma + (_hash_unit(seed, uid, 7) - 0.5) * jitter * 40.0
        b2 = y2 + cb2
        r2 = y2 + cr2
        g2 = (y2 - 0.114 * b2 - 0.299 * r2) / 0.587
        dots[cell, 0] = x
        dots[cell, 1] = y
        dots[cell, 2] = max(0.7, radius)
        cols[cell, 0] = min(255.0, max(0.0, b2))
        cols[cell, 1] = min(255.0, max(0.0, g2))
        cols[cell, 2] = min(255.0, max(0.0, r2))


# --- abstraction: cartoon (Winnemoeller 2006) and ink wash --------------------


#: Rows per band of :func:`split_luma`.
_SPLIT_BAND = 128


@numba.njit(inline="always")
def _split_row(row, luma_row, color_row):
    """One row of :func:`split_luma`: 16-bit BGR ``row`` to its uint16 luma
    and its 8-bit colours."""
    k = np.float32(1.0 / 257.0)
    for j in range(row.shape[0]):
        b = np.float32(row[j, 0])
        g = np.float32(row[j, 1])
        r = np.float32(row[j, 2])
        y = np.float32(0.114) * b + np.float32(0.587) * g + np.float32(0.299) * r
        luma_row[j] = np.uint16(y + np.float32(0.5))
        color_row[j, 0] = np.uint8(b * k + np.float32(0.5))
        color_row[j, 1] = np.uint8(g * k + np.float32(0.5))
        color_row[j, 2] = np.uint8(r * k + np.float32(0.5))


@numba.njit(parallel=True, **_JIT)
def split_luma(buf: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Luma of a 16-bit smoothed image and its 8-bit colours.

    Returns ``HxW`` uint16 BT.601 luma in the buffer's fixed point (``v *
    257`` for ``v`` on the 0..255 scale; half the memory of float32, 1/257
    of a grey level); ``color`` (``HxWx3`` uint8) receives ``buf`` rounded
    to 8 bits. ``color`` may be the first half of ``buf``'s own memory: bands
    of rows are converted in parallel into scratch, then copied, top to
    bottom; band ``[a, b)`` lands on bytes of rows below ``b / 2 + 1`` of
    ``buf``, all read already, and later bands read rows from ``b`` on.
    """
    h, w = buf.shape[0], buf.shape[1]
    luma = np.empty((h, w), np.uint16)
    band = _SPLIT_BAND
    scratch = np.empty((min(h, band), w, 3), np.uint8)
    for a in range(0, h, band):
        bnd = min(h, a + band)
        for i in numba.prange(a, bnd):
            _split_row(buf[i], luma[i], scratch[i - a])
        for i in numba.prange(a, bnd):
            color[i] = scratch[i - a]
    return luma


@numba.njit(parallel=True, **_JIT)
def split_luma_band(
    buf: np.ndarray,
    color: np.ndarray,
    ring: np.ndarray,
    scratch: np.ndarray,
    row0: int,
    row1: int,
) -> None:
    """Rows ``row0`` to ``row1`` of :func:`split_luma`, the same values:
    colours into ``color`` through ``scratch`` (at least ``row1 - row0``
    rows; ``color`` may be the first half of ``buf``'s memory, as for
    :func:`split_luma`), luma row ``i`` into row ``i % len(ring)`` of
    ``ring`` (``processing.looks._split_over_buffer`` moves it to its place
    once that place is free).
    """
    size = ring.shape[0]
    for i in numba.prange(row0, row1):
        _split_row(buf[i], ring[i % size], scratch[i - row0])
    for i in numba.prange(row0, row1):
        color[i] = scratch[i - row0]


@numba.njit(inline="always")
def _luma_at(luma, i, j):
    """Grey level (0..255, float32) of the uint16 fixed-point luma."""
    return np.float32(luma[i, j]) * np.float32(1.0 / 257.0)


@numba.njit(inline="always")
def _sample1(img, row0, h, xs, ys):
    """Bilinear sample at (xs, ys), clamped, of a float32 image ``h`` rows
    high of which ``img`` holds the rows from ``row0`` on (a band)."""
    w = img.shape[1]
    xs = min(max(xs, np.float32(0.0)), np.float32(w - 1))
    ys = min(max(ys, np.float32(0.0)), np.float32(h - 1))
    x0 = int(xs)
    y0 = int(ys)
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    fx = xs - x0
    fy = ys - y0
    y0 -= row0
    y1 -= row0
    top = img[y0, x0] + fx * (img[y0, x1] - img[y0, x0])
    bottom = img[y1, x0] + fx * (img[y1, x1] - img[y1, x0])
    return top + fy * (bottom - top)


@numba.njit(inline="always")
def _along_flow(dog, row0, h, tangent, ti, tj, i, j, step, weights):
    """Flow-based DoG at one pixel: the DoG response averaged along the
    tangent (``dog`` holds the rows from ``row0`` on of ``h``)."""
    tx = tangent[ti, tj, 0] * step
    ty = tangent[ti, tj, 1] * step
    m = (weights.shape[0] - 1) // 2
    acc = weights[m] * dog[i - row0, j]
    for t in range(1, m + 1):
        dx = tx * t
        dy = ty * t
        acc += weights[m + t] * (
            _sample1(dog, row0, h, j + dx, i + dy)
            + _sample1(dog, row0, h, j - dx, i - dy)
        )
    return acc


@numba.njit(inline="always")
def _soft_quantise(v, delta, steps, grad):
    """Winnemoeller's soft quantisation of ``v`` (0..255), continuous.

    ``q + steps[k, x]`` with ``q`` the nearest level, ``x = (v - q) /
    delta`` in -0.5..0.5 and ``steps`` the table of ``delta / 2 * tanh(k *
    x) / tanh(k / 2)`` made by :func:`processing.looks._soft_steps` (rows:
    sharpness ``k``; columns: ``x``, interpolated linearly): the steps are
    tanh ramps, and dividing by ``tanh(k / 2)`` joins them at the bin
    borders, so there is no jump anywhere. The row grows with the local
    gradient ``grad`` (grey levels per pixel, 4 -> 16, smoothstep): soft on
    smooth shading (no bands on skies and skin), crisp where a tone
    boundary meets an edge.
    """
    q = np.floor(v / delta + np.float32(0.5)) * delta
    x = (v - q) / delta
    t = min(np.float32(1.0), max(np.float32(0.0), (grad - np.float32(4.0)) / 12.0))
    row = int(t * t * (np.float32(3.0) - 2.0 * t) * (steps.shape[0] - 1) + 0.5)
    ncol = steps.shape[1] - 1
    f = min(np.float32(ncol), max(np.float32(0.0), (x + np.float32(0.5)) * ncol))
    col = min(ncol - 1, int(f))
    f -= col
    return q + steps[row, col] + f * (steps[row, col + 1] - steps[row, col])


@numba.njit(inline="always")
def _grad_mag(luma, i, j, h, w):
    """3x3 Sobel gradient magnitude of the uint16 luma, grey levels per pixel."""
    iu = max(i - 1, 0)
    idn = min(i + 1, h - 1)
    jl = max(j - 1, 0)
    jr = min(j + 1, w - 1)
    a = np.float32(luma[iu, jl])
    b = np.float32(luma[iu, j])
    c = np.float32(luma[iu, jr])
    d = np.float32(luma[i, jl])
    f = np.float32(luma[i, jr])
    g = np.float32(luma[idn, jl])
    k = np.float32(luma[idn, j])
    m = np.float32(luma[idn, jr])
    gx = c + 2.0 * f + m - a - 2.0 * d - g
    gy = g + 2.0 * k + m - a - 2.0 * b - c
    return np.sqrt(gx * gx + gy * gy) * np.float32(0.125 / 257.0)


@numba.njit(parallel=True, **_JIT)
def cartoon_finish(
    color: np.ndarray,
    luma: np.ndarray,
    dog: np.ndarray,
    tangent: np.ndarray,
    inv_scale: np.float32,
    step: np.float32,
    weights: np.ndarray,
    delta: np.float32,
    steps: np.ndarray,
    epsilon: np.float32,
    phi: np.float32,
    lines: bool,
    row0: int,
    row1: int,
    dog_row0: int,
) -> None:
    """Quantise the lightness softly and draw the XDoG lines, in place on ``color``.

    Rows ``row0`` to ``row1`` (a band); ``dog`` holds the DoG response from
    row ``dog_row0`` on, down to at least the reach of the flow pass past
    ``row1``.

    Every pixel's luma moves to its soft-quantised value
    (:func:`_soft_quantise`, levels ``delta`` apart, table ``steps``);
    the same shift is added to the three channels, so chroma is kept. With
    ``lines``, the DoG response smoothed along the flow (``weights``,
    ``step``) gives the outline: ``E = 1 + tanh(phi * (H + epsilon))``
    where ``H < -epsilon`` (XDoG's soft threshold), else 1, and the colour
    is multiplied by ``0.15 + 0.85 * E``.
    """
    h, w = luma.shape[0], luma.shape[1]
    th, tw = tangent.shape[0], tangent.shape[1]
    for i in numba.prange(row0, row1):
        ti = min(th - 1, int((i + np.float32(0.5)) * inv_scale))
        for j in range(w):
            v = _luma_at(luma, i, j)
            grad = _grad_mag(luma, i, j, h, w)
            shift = _soft_quantise(v, delta, steps, grad) - v
            gain = np.float32(1.0)
            # A line is a band of negative response along the flow: where the
            # pixel's own response is not clearly negative, its average along
            # the flow is not either (this skips the flow pass almost everywhere).
            if lines and dog[i - dog_row0, j] < -0.5 * epsilon:
                tj = min(tw - 1, int((j + np.float32(0.5)) * inv_scale))
                hval = _along_flow(
                    dog, dog_row0, h, tangent, ti, tj, i, j, step, weights
                )
                if hval < -epsilon:
                    e = np.float32(1.0) + np.tanh(phi * (hval + epsilon))
                    gain = np.float32(0.15) + np.float32(0.85) * e
            for c in range(3):
                x = (np.float32(color[i, j, c]) + shift) * gain + np.float32(0.5)
                color[i, j, c] = np.uint8(
                    min(np.float32(255.0), max(np.float32(0.0), x))
                )


@numba.njit(inline="always")
def _smooth_sample(lattice, x, y):
    """Value noise from a lattice of random values: smoothstep-bilinear, wrapped."""
    h, w = lattice.shape[0], lattice.shape[1]
    xi = int(np.floor(x))
    yi = int(np.floor(y))
    fx = np.float32(x - xi)
    fy = np.float32(y - yi)
    fx = fx * fx * (np.float32(3.0) - 2.0 * fx)
    fy = fy * fy * (np.float32(3.0) - 2.0 * fy)
    x0 = xi % w
    y0 = yi % h
    x1 = (x0 + 1) % w
    y1 = (y0 + 1) % h
    top = lattice[y0, x0] + fx * (lattice[y0, x1] - lattice[y0, x0])
    bottom = lattice[y1, x0] + fx * (lattice[y1, x1] - lattice[y1, x0])
    return top + fy * (bottom - top)


@numba.njit(inline="always")
def _lattice(seed, a, b):
    """A number in [0, 1) for a noise lattice point (one splitmix64 round)."""
    x = _mix64(seed ^ (a + b))
    return np.float32(x >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


@numba.njit(inline="always")
def _value_noise(seed, x, y):
    """Smooth value noise in [0, 1): hashed lattice, bilinear, smoothstep."""
    xi = np.floor(x)
    yi = np.floor(y)
    fx = x - xi
    fy = y - yi
    fx = fx * fx * (3.0 - 2.0 * fx)
    fy = fy * fy * (3.0 - 2.0 * fy)
    a = np.uint64(np.int64(xi) + 1_000_000) * _GOLD
    b = np.uint64(np.int64(yi) + 1_000_000) * _M2
    v00 = _lattice(seed, a, b)
    v10 = _lattice(seed, a + _GOLD, b)
    v01 = _lattice(seed, a, b + _M2)
    v11 = _lattice(seed, a + _GOLD, b + _M2)
    top = v00 + fx * (v10 - v00)
    bottom = v01 + fx * (v11 - v01)
    return top + fy * (bottom - top)


@numba.njit(parallel=True, **_JIT)
def ink_finish(
    color: np.ndarray,
    luma: np.ndarray,
    dog: np.ndarray,
    tangent: np.ndarray,
    inv_scale: np.float32,
    step: np.float32,
    weights: np.ndarray,
    steps: np.ndarray,
    mottle: np.ndarray,
    fibres: np.ndarray,
    ink: np.float32,
    dry: np.float32,
    wash: np.float32,
    paper: np.float32,
    grain: np.float32,
    epsilon: np.float32,
    lines: bool,
    seed: np.uint64,
    row0: int,
    row1: int,
    dog_row0: int,
) -> None:
    """Ink wash on rice paper, in place on ``color`` (the smoothed photo).

    Rows ``row0`` to ``row1`` (a band), ``dog`` from row ``dog_row0`` on, as
    for :func:`cartoon_finish`.

    * washes: the smoothed luma, softly quantised into 5 ink tones
      (:func:`_soft_quantise`, table ``steps``), becomes ink absorbance
      ``(215 - tone) / 215 * (0.35 + 0.65 * ink)`` (tones above
      215 are bare paper);
    * dry-brush lines: the flow-smoothed DoG below ``-epsilon`` gives the
      line ink; streak noise stretched along the flow (value noise in
      across/along coordinates, ~1 px by ~12 px at ``grain`` 1) leaves
      gaps where the dry brush skips (``dry`` 0..1);
    * paper: warm off-white, mottled by two octaves of value noise (the
      random lattices ``mottle``, 40 px cells, and ``fibres``, 3 x 9 px
      cells, at ``grain`` 1; smoothstep interpolation), contrast ``paper``
      0..1; ink darkens it multiplicatively;
    * ``wash`` 0..1 keeps that share of the photo's chroma.
    """
    h, w = luma.shape[0], luma.shape[1]
    th, tw = tangent.shape[0], tangent.shape[1]
    delta = np.float32(255.0 / 4.0)
    strength = np.float32(0.35) + np.float32(0.65) * ink
    inv_grain = np.float32(1.0) / grain
    for i in numba.prange(row0, row1):
        ti = min(th - 1, int((i + np.float32(0.5)) * inv_scale))
        for j in range(w):
            tj = min(tw - 1, int((j + np.float32(0.5)) * inv_scale))
            v = _luma_at(luma, i, j)
            grad = _grad_mag(luma, i, j, h, w)
            tone = _soft_quantise(v, delta, steps, grad)
            # light tones are bare paper; darker ones soak up ink
            absorb = min(
                np.float32(1.0),
                max(np.float32(0.0), (np.float32(215.0) - tone) / np.float32(215.0)),
            )
            absorb *= strength
            if lines and dog[i - dog_row0, j] < -0.5 * epsilon:
                hval = _along_flow(
                    dog, dog_row0, h, tangent, ti, tj, i, j, step, weights
                )
                if hval < -epsilon:
                    line = -np.tanh(np.float32(0.35) * (hval + epsilon))
                    if dry > 0.0:
                        tx = tangent[ti, tj, 0]
                        ty = tangent[ti, tj, 1]
                        along = (j * tx + i * ty) * inv_grain
                        across = (i * tx - j * ty) * inv_grain
                        n = _value_noise(seed, across * np.float32(0.9), along / 12.0)
                        skip = min(1.0, max(0.0, (n - 0.25) * 2.5))
                        line *= np.float32(1.0) - dry * np.float32(skip)
                    absorb = absorb + (np.float32(1.0) - absorb) * line * np.float32(
                        0.92
                    )
            fibre = np.float32(1.0)
            if paper > 0.0:
                m = _value_noise(
                    seed + np.uint64(1), j * inv_grain / 40.0, i * inv_grain / 40.0
                )
                f = _value_noise(
                    seed + np.uint64(2), j * inv_grain / 3.0, i * inv_grain / 9.0
                )
                fibre = np.float32(1.0) - paper * np.float32(0.06 * m + 0.05 * f)
            keep = np.float32(1.0) - absorb
            for c, base in (
                (0, np.float32(214.0)),
                (1, np.float32(231.0)),
                (2, np.float32(240.0)),
            ):
                tint = (np.float32(color[i, j, c]) - v) * wash
                x = (base * fibre + tint) * keep + np.float32(0.5)
                color[i, j, c] = np.uint8(
                    min(np.float32(255.0), max(np.float32(0.0), x))
                )
