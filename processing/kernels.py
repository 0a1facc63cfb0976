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
  the cartoon style (:func:`cartoon_edges`, :func:`cartoon_paint`).
* :func:`oil_rows` - ``cv::xphoto::oilPainting``: sliding-window histogram of
  quantised luminance, mode bin, mean colour of that bin. The built-in scans
  all 256 bins for every pixel; here the mode is tracked incrementally and
  the bins are only rescanned, between bounds of the occupied levels, when
  the mode bin loses a pixel.

Compiled code is cached (``cache=True``). Numba looks for a writable cache
directory in this order: ``NUMBA_CACHE_DIR`` when set; ``__pycache__`` next
to this file; Numba's per-user cache (``~/.cache/numba`` or
``$XDG_CACHE_HOME/numba``) when the package directory is read-only. If none
is writable, caching is switched off and every process compiles the kernels
once (~20 s): in read-only containers set ``NUMBA_CACHE_DIR`` to a writable
path, and call :func:`processing.warm_up` in the parent of forked workers.
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
def _stylize_px(buf, out, iu, i, idn, jl, j, jr):
    """One pixel of :func:`stylize_edges` (neighbour indices given)."""
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
        out[i, j, c] = np.uint8(min(k255, max(zero, v)))


@numba.njit(parallel=True, **_JIT)
def stylize_edges(buf: np.ndarray) -> np.ndarray:
    """The edge step of ``cv2.stylization`` on the filtered image.

    ``out_c = res_c * (1 - sum_c |Sobel3x3(res_c)|)`` in float32 with
    reflect-101 borders, then ``convertTo(CV_8U, 255)``. The first and last
    columns are done apart so that the inner loop has no border logic.
    """
    h, w = buf.shape[0], buf.shape[1]
    out = np.empty((h, w, 3), np.uint8)
    for i in numba.prange(h):
        iu = _reflect101(i - 1, h)
        idn = _reflect101(i + 1, h)
        _stylize_px(buf, out, iu, i, idn, _reflect101(-1, w), 0, _reflect101(1, w))
        for j in range(1, w - 1):
            _stylize_px(buf, out, iu, i, idn, j - 1, j, j + 1)
        if w > 1:
            _stylize_px(buf, out, iu, i, idn, w - 2, w - 1, _reflect101(w, w))
    return out


@numba.njit(parallel=True, **_JIT)
def cartoon_edges(buf: np.ndarray, threshold: np.float32) -> np.ndarray:
    """1 where the 3x3 Sobel magnitude of the luma of ``buf`` exceeds ``threshold``.

    Luma is BT.601 (``0.114 B + 0.587 G + 0.299 R``) of the 16-bit values;
    Sobel is linear, so the channel gradients are weighted and summed.
    """
    h, w = buf.shape[0], buf.shape[1]
    out = np.empty((h, w), np.uint8)
    wb = np.float32(0.114)
    wg = np.float32(0.587)
    wr = np.float32(0.299)
    t2 = threshold * threshold
    for i in numba.prange(h):
        iu = _reflect101(i - 1, h)
        idn = _reflect101(i + 1, h)
        for j in range(w):
            jl = _reflect101(j - 1, w)
            jr = _reflect101(j + 1, w)
            fx = np.float32(0.0)
            fy = np.float32(0.0)
            for c in range(3):
                gx, gy = _sobel3(buf, iu, i, idn, jl, j, jr, c)
                wc = wb if c == 0 else (wg if c == 1 else wr)
                fx += wc * np.float32(gx)
                fy += wc * np.float32(gy)
            out[i, j] = 1 if fx * fx + fy * fy > t2 else 0
    return out


@numba.njit(parallel=True, **_JIT)
def cartoon_paint(buf: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Quantise ``buf`` (16-bit) to 8-bit tones with ``lut``."""
    h, w = buf.shape[0], buf.shape[1]
    out = np.empty((h, w, 3), np.uint8)
    for i in numba.prange(h):
        for j in range(w):
            for c in range(3):
                out[i, j, c] = lut[(np.int32(buf[i, j, c]) + 128) // 257]
    return out


@numba.njit(parallel=True, **_JIT)
def darken(out: np.ndarray, mask: np.ndarray) -> None:
    """Divide ``out`` (HxWx3 uint8) by 4 in place where ``mask`` is set."""
    h, w = mask.shape
    for i in numba.prange(h):
        for j in range(w):
            if mask[i, j]:
                for c in range(3):
                    out[i, j, c] = out[i, j, c] // 4


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
    image: np.ndarray, lut: np.ndarray, ratio: np.float32, radius: np.float32
) -> np.ndarray:
    """Vertical window counts (``HxW`` uint16), strips of 16 columns."""
    h, w = image.shape[0], image.shape[1]
    out = np.empty((h, w), np.uint16)
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
                out[i, j0 + jj] = counts[i]
    return out


@numba.njit(parallel=True, **_JIT)
def pencil_rows(
    image: np.ndarray,
    counts_y: np.ndarray,
    lut: np.ndarray,
    ratio: np.float32,
    radius: np.float32,
    shade: np.float32,
    color: bool,
) -> np.ndarray:
    """Row window counts + ``counts_y`` -> gray or colour pencil image.

    ``pen = shade * (counts_x + counts_y)`` is the sketch (OpenCV's
    ``sketch.convertTo(CV_8U, 255)``); for colour it replaces the luma of the
    photo in YCrCb (OpenCV's float coefficients) and converts back to BGR.

    Returns:
        ``HxWx3`` uint8 (three equal channels for gray).
    """
    h, w = image.shape[0], image.shape[1]
    out = np.empty((h, w, 3), np.uint8)
    k255 = np.float32(255.0)
    zero = np.float32(0.0)
    half = np.float32(0.5)
    for i in numba.prange(h):
        ct = np.empty(w, np.float32)
        counts = np.empty(w, np.int64)
        _count_line(image[i], lut, ratio, radius, ct, counts)
        for j in range(w):
            pen = shade * (np.float32(counts[j]) + np.float32(counts_y[i, j]))
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
    return out
