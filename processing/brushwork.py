"""Stroke-based styles: strokes and dots painted one by one on a canvas.

* impressionist = Hertzmann, "Painterly Rendering with Curved Brush Strokes
  of Multiple Sizes" (SIGGRAPH 1998): layers from the largest brush to the
  smallest, each over a reference blurred in proportion to its brush;
  strokes start on a grid where the canvas still differs from the reference,
  follow the normal of the reference's gradient as a curve and stop where
  the canvas is already closer to the reference than the stroke's colour.
  From Litwinowicz, "Processing Images and Video for an Impressionist
  Effect" (SIGGRAPH 1997): colour jitter and strokes clipped at edges.
* pointillism = Seurat's divisionism: dots of saturated colour, some of
  neighbouring and complementary hues, smaller and denser where the photo
  has detail, on a light canvas.

Randomness comes from a seed derived from the recipe (style, parameters,
image size) through a counter-based hash in the kernels, so the same photo
and recipe give the same pixels in any process and with any thread count.
The plans (references, gradients, detail) are made on downscaled copies
with OpenCV's ``resize`` (``INTER_AREA``), ``GaussianBlur`` and ``Sobel``;
strokes are made and painted by the Numba kernels in
:mod:`processing.kernels`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from processing.looks import (
    _KERNEL_LOCK,
    _kernels,
    double_angle_tensor,
    recipe_seed,
    release_heap,
    release_input,
)

__all__ = ["brush_radii", "impressionist", "plan_dots", "pointillism"]

#: At most this many grid cells per layer: bounds the cost of tiny brushes on
#: huge images (the radius grows instead; a 12 MP photo keeps radii >= 3 px).
_MAX_CELLS = 1_500_000
#: Smallest brush radius and grid step, px: a layer of 1-px strokes costs
#: 36x the cells of the default's finest layer, for marks too small to read
#: as brushwork; with radii >= 3 px and a grid step >= 6 px every setting
#: stays within 2x of the default's cost (tests/processing/test_cost.py).
_MIN_RADIUS = 3
_MIN_GRID = 6
#: Bytes of stroke plans made at once (control points of a chunk of cells).
_CHUNK_BYTES = 4 << 20


def brush_radii(brush_size: int, layers: int, pixels: int) -> list[int]:
    """Brush radii of the layers, largest first.

    Each layer halves the previous radius (Hertzmann's ``R_i = R_0 / 2^i``),
    rounded down, never below 3 px nor below ``sqrt(pixels / 1.5e6)`` (so
    that a layer has at most ~1.5 M grid cells: a 12 MP photo keeps radii of
    3 px or more); equal radii are painted once.

    Args:
        brush_size: the largest radius in pixels, >= 1.
        layers: number of layers, >= 1.
        pixels: image height * width.
    """
    floor = max(_MIN_RADIUS, math.ceil(math.sqrt(pixels / _MAX_CELLS)))
    radii: list[int] = []
    for i in range(layers):
        radius = max(floor, int(brush_size / 2**i))
        if not radii or radius < radii[-1]:
            radii.append(radius)
    return radii


def _hash_keys(seed: np.uint64, layer: int, ids: np.ndarray) -> np.ndarray:
    """splitmix64 of (seed, layer, id) for every id, in numpy (uint64)."""
    with np.errstate(over="ignore"):
        x = ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= seed + np.uint64(layer) * np.uint64(0xD1B54A32D192ED03)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


#: Stroke direction where the photo has no edges to follow: up and to the
#: right, as a right-handed painter's hatching (radians, image y down).
_HAND_ANGLE = math.radians(-35.0)
#: Weight of that direction, in (grey levels per brush radius) squared.
_HAND_WEIGHT = 30.0


def _half_size(image: np.ndarray) -> np.ndarray | None:
    """``image`` shrunk by 2 (``INTER_AREA``), or None when it is tiny.

    Every reference is made at 1/2 or less of the canvas size, so shrinking
    from this copy instead of from the photo reads a quarter of the pixels
    per layer.
    """
    h, w = image.shape[:2]
    if min(h, w) <= 8:
        return None
    return cv2.resize(image, (-(-w // 2), -(-h // 2)), interpolation=cv2.INTER_AREA)


def _shrunk(
    image: np.ndarray, radius: int, half: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """``image`` made ``d`` times smaller for a layer of brush ``radius``
    (``d = radius // 2``, at least 2; 1 for a tiny image), ``INTER_AREA``,
    from ``half`` (:func:`_half_size` of ``image``) when given.

    Returns:
        ``(small, d)``: uint8 ``h x w x 3`` and the downscale factor.
    """
    h, w = image.shape[:2]
    d = max(2, radius // 2) if min(h, w) > 8 else 1
    hs, ws = max(1, -(-h // d)), max(1, -(-w // d))
    source = half if half is not None and d > 1 else image
    return cv2.resize(source, (ws, hs), interpolation=cv2.INTER_AREA), d


def _blurred(small: np.ndarray, radius: int, d: int) -> np.ndarray:
    """The reference of :func:`_reference` from :func:`_shrunk`'s copy:
    float32, blurred with the sigma left for a brush of ``radius``."""
    ref = small.astype(np.float32)
    sigma = math.sqrt(max(0.25, (0.5 * radius / d) ** 2 - 0.25))
    return cv2.GaussianBlur(ref, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _directions(ref: np.ndarray, radius: int, d: int) -> np.ndarray:
    """The gradient field of :func:`_reference` from its reference ``ref``."""
    gray = cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY)
    # grey levels per brush radius: the same field at any image size
    scale = radius / (8.0 * d)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, scale=scale)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, scale=scale)
    del gray
    # A 12 MP photo's finest reference is 1.3 MP of float32, ~5 MB a plane,
    # next to a 36 MB canvas: at most four planes are alive at once here,
    # and the freed ones are given back before the next stage (glibc keeps
    # blocks of this size in the heap, where the next, larger one does not
    # fit).
    release_heap()
    tensor = double_angle_tensor(gx, gy)
    del gx, gy
    tensor = cv2.GaussianBlur(tensor, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
    release_heap()
    tensor[..., 0] -= _HAND_WEIGHT * math.cos(2 * _HAND_ANGLE)
    tensor[..., 1] -= _HAND_WEIGHT * math.sin(2 * _HAND_ANGLE)
    # planes of their own: cv2 would copy the strided channels anyway (and
    # cv2.split makes its planes twice over, a transient 2 planes more)
    tx = np.ascontiguousarray(tensor[..., 0])
    ty = np.ascontiguousarray(tensor[..., 1])
    del tensor
    release_heap()
    strength, angle = cv2.cartToPolar(tx, ty)
    del tx, ty
    angle *= 0.5
    np.sqrt(strength, out=strength)
    x, y = cv2.polarToCart(strength, angle)
    del strength, angle
    release_heap()
    return cv2.merge([x, y])


def _reference(
    image: np.ndarray, radius: int, half: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The layer's reference and its direction field, downscaled.

    Hertzmann blurs the photo with a Gaussian of ``sigma = f_sigma * R``
    (``f_sigma = 0.5``); that image has no detail finer than ~R, so it is
    made at ``1 / d`` of the size (``d = R // 2``, at least 2): ``INTER_AREA`` resize,
    then ``GaussianBlur`` with the remaining sigma (:func:`_shrunk`,
    :func:`_blurred`). The gradient field the
    strokes follow is the smoothed structure tensor of the luma
    (``COLOR_BGR2GRAY``, ``Sobel``, ``GaussianBlur``; :func:`_directions`):
    opposite gradients on
    both sides of a thin line reinforce instead of cancelling, and in flat
    areas a weak constant term (a painter's hatching direction,
    :data:`_HAND_ANGLE`) wins over noise, so strokes there run parallel
    instead of wandering.

    ``half`` (:func:`_half_size` of ``image``) is shrunk instead of
    ``image`` when given.

    Returns:
        ``(ref, grad, d)``: float32 ``h x w x 3`` BGR, float32 ``h x w x 2``
        gradient-like vectors (direction of the dominant gradient, length
        its strength), the downscale factor.
    """
    small, d = _shrunk(image, radius, half)
    ref = _blurred(small, radius, d)
    del small
    return ref, _directions(ref, radius, d), d


def _layer_strokes(
    canvas: np.ndarray,
    ref: np.ndarray,
    grad: np.ndarray,
    d: int,
    radius: int,
    *,
    max_pts: int,
    curvature: float,
    threshold: float,
    clip: float,
    jitter: float,
    first: bool,
    seed: np.uint64,
    layer: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plan one layer's strokes; returns ``(pts, starts, cols, ids)`` in grid order."""
    kernels = _kernels()
    h, w = canvas.shape[:2]
    # Hertzmann's grid is R. The first layer's strokes all run their full
    # length (nothing is painted yet), so its grid widens with the stroke
    # length to keep ~4 coats of paint whatever the length; later layers'
    # strokes stop sooner, and their grid widens half as fast. The cost of
    # a layer then hardly depends on the stroke length.
    spread = max_pts / 2.0 if first else max_pts / 8.0
    grid = max(_MIN_GRID, int(round(radius * max(1.0, math.sqrt(spread)))))
    ncx = -(-w // grid)
    ncy = -(-h // grid)
    rows_per_chunk = max(1, _CHUNK_BYTES // (ncx * max_pts * 8))
    min_pts = min(max_pts, 3)
    all_pts, all_counts, all_cols, all_ids = [], [], [], []
    for cy0 in range(0, ncy, rows_per_chunk):
        cy1 = min(ncy, cy0 + rows_per_chunk)
        ncells = (cy1 - cy0) * ncx
        pts = np.empty((ncells, max_pts, 2), np.float32)
        npts = np.empty(ncells, np.int32)
        cols = np.empty((ncells, 3), np.float32)
        kernels.impressionist_strokes(
            canvas,
            ref,
            grad,
            1.0 / d,
            float(radius),
            grid,
            cy0,
            cy1,
            max_pts,
            min_pts,
            curvature,
            threshold,
            clip,
            jitter,
            first,
            seed,
            pts,
            npts,
            cols,
        )
        chosen = np.flatnonzero(npts)
        counts = npts[chosen]
        keep = np.arange(max_pts)[None, :] < counts[:, None]
        all_pts.append(pts[chosen][keep])
        all_counts.append(counts)
        all_cols.append(cols[chosen])
        all_ids.append(chosen + cy0 * ncx)
    counts = np.concatenate(all_counts)
    starts = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    return (
        np.concatenate(all_pts),
        starts,
        np.concatenate(all_cols),
        np.concatenate(all_ids),
    )


def _shuffled(
    pts: np.ndarray,
    starts: np.ndarray,
    cols: np.ndarray,
    keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Strokes reordered by ``keys`` (Hertzmann paints a layer in random order)."""
    order = np.argsort(keys, kind="stable")
    counts = np.diff(starts)[order]
    new_starts = np.zeros(len(order) + 1, np.int64)
    np.cumsum(counts, out=new_starts[1:])
    index = np.repeat(starts[:-1][order] - new_starts[:-1], counts) + np.arange(
        new_starts[-1]
    )
    return pts[index], new_starts, cols[order], keys[order]


def impressionist(
    image: np.ndarray,
    brush_size: int,
    layers: int,
    curvature: float,
    stroke_length: int,
    detail: float,
    color_jitter: float,
    canvas_texture: float,
    *,
    ground: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Impressionist painting: curved brush strokes of several sizes.

    Hertzmann's layered painting (1998). Layer ``i`` has brush radius
    ``R_i`` (:func:`brush_radii`) and a reference blurred with ``sigma =
    R_i / 2`` (:func:`_reference`). On a grid of ``R_i`` cells, a cell whose
    mean colour distance between canvas and reference exceeds a threshold
    gets a stroke from its worst pixel (every cell on the first layer); the
    stroke is a curve of control points ``R_i`` apart that follows the
    normal of the reference's luminance gradient, smoothed by the curvature
    filter ``fc``, and stops after at most ``2 * stroke_length`` steps, when
    the canvas is already closer to the reference than the stroke colour
    (after 2 steps), at the image border, or - as in Litwinowicz (1997) -
    before it would cross an edge, where the reference's colour departs
    from the stroke's. Colours get value, hue and saturation jitter. A layer's
    strokes are painted in a shuffled order with an anti-aliased round
    brush whose bristles leave streaks of lighter and darker paint and run
    dry near the stroke's end. The canvas starts with a toned ground (the
    first reference) and its weave shows through at the end.

    Args:
        image: ``HxWx3`` uint8 BGR.
        brush_size: radius of the largest brush in pixels, 4..96.
        layers: number of brush sizes, 1..4 (each halves the radius).
        curvature: Hertzmann's ``fc``, 0..1 (0 straight, 1 fully curved).
        stroke_length: longest stroke in brush widths, 1..16.
        detail: 0..1; the colour error a cell may keep falls from 60 to 15
            grey levels (Euclidean BGR distance; plus 25 * color_jitter, the
            strokes' own variation), and edges clip strokes sooner.
        color_jitter: 0..1 (hue +-30 deg, saturation +-50 %, value +-30
            levels at 1).
        canvas_texture: 0..1, contrast of the canvas weave (period
            ``brush_size / 5`` px; fades out below 3 px).
        ground: paint on this flat BGR colour instead of the toned ground
            (for tests that look for bare canvas); not a style parameter.

    Returns:
        ``HxWx3`` uint8. Deterministic: the strokes' randomness is seeded by
        :func:`recipe_seed` of the parameters and the image size.
    """
    src = np.ascontiguousarray(image)
    h, w = src.shape[:2]
    seed = recipe_seed(
        "impressionist",
        h,
        w,
        int(brush_size),
        int(layers),
        float(curvature),
        int(stroke_length),
        float(detail),
        float(color_jitter),
    )
    radii = brush_radii(int(brush_size), int(layers), h * w)
    # A stroke's own jitter must not count as an error to repaint.
    threshold = 15.0 + 45.0 * (1.0 - detail) + 25.0 * color_jitter
    clip = 40.0 + 80.0 * (1.0 - detail)
    max_pts = 2 * int(stroke_length) + 1
    # Every layer's shrunk copy at once (a few MB), so that the half-size
    # copy they come from is gone before the canvas and the references.
    half = _half_size(src)
    shrunk = [_shrunk(src, radius, half) for radius in radii]
    del half
    release_input()
    with _KERNEL_LOCK:
        kernels = _kernels()
        canvas = None
        for layer, radius in enumerate(radii):
            small, d = shrunk[layer]
            shrunk[layer] = None
            release_heap()  # the last layer's freed temporaries
            ref = _blurred(small, radius, d)
            del small
            release_heap()  # the unblurred copy
            grad = _directions(ref, radius, d)
            release_heap()  # the tensor's planes
            if canvas is None and ground is not None:
                canvas = np.empty((h, w, 3), np.uint8)
                canvas[:] = ground
            elif canvas is None:
                # the toned ground: what shows wherever no stroke lands
                canvas = cv2.resize(
                    np.clip(ref + 0.5, 0, 255).astype(np.uint8),
                    (w, h),
                    interpolation=cv2.INTER_LINEAR,
                )
            pts, starts, cols, ids = _layer_strokes(
                canvas,
                ref,
                grad,
                d,
                radius,
                max_pts=max_pts,
                curvature=float(curvature),
                threshold=threshold,
                clip=clip,
                jitter=float(color_jitter),
                first=layer == 0,
                seed=seed,
                layer=layer,
            )
            del ref, grad
            if len(cols) == 0:
                continue
            keys = _hash_keys(seed, layer, ids)
            pts, starts, cols, keys = _shuffled(pts, starts, cols, keys)
            radii_k = np.full(len(cols), radius, np.float32)
            band = max(16, -(-h // (8 * kernels.numba.get_num_threads())))
            kernels.paint_strokes(
                canvas, pts, starts, cols, radii_k, keys, 0.16, 0.5, band
            )
        period = brush_size / 5.0
        amount = canvas_texture * min(1.0, max(0.0, (period - 1.5) / 1.5))
        if amount > 0:
            kernels.canvas_weave(canvas, np.float32(period), np.float32(amount))
    return canvas


#: The light, slightly warm canvas under the dots (BGR), see :func:`_small_ground`.
_DOT_CANVAS = (222, 234, 240)


def _small_ground(image: np.ndarray) -> np.ndarray:
    """The ground under the dots, at 1/16 of the size (enlarged with
    ``INTER_LINEAR`` under the dots): the light canvas washed with the
    photo's colours.

    As Seurat laid in broad areas of colour before the dots, the gaps
    between dots show the photo blurred far beyond the dots (a 1/16 size
    ``INTER_AREA`` copy), a fifth mixed with the light canvas: no light
    specks in a night sky.
    """
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA
    )
    # mixed while small: one full-size array, not two
    toned = small.astype(np.float32) * 0.8 + 0.2 * np.array(_DOT_CANVAS, np.float32)
    return np.clip(toned + 0.5, 0, 255).astype(np.uint8)


def plan_dots(
    image: np.ndarray,
    dot_size: int,
    detail: float,
    density: float,
    color_jitter: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where :func:`pointillism` puts its dots, their sizes and colours.

    Call with the kernel lock held (:func:`pointillism` does).

    Returns:
        ``(dots, cols, keys)`` in painting order: float32 ``N x 3`` ``(x, y,
        radius)``, float32 ``N x 3`` BGR, uint64 ``N`` seeds.
    """
    src = image
    h, w = src.shape[:2]
    seed = recipe_seed(
        "pointillism", h, w, int(dot_size), float(detail), float(density),
        float(color_jitter),
    )  # fmt: skip
    radius = float(dot_size)
    # the reference only: its gradient field is not used here
    small, d = _shrunk(src, max(1, int(dot_size)), _half_size(src))
    ref = _blurred(small, max(1, int(dot_size)), d)
    del small
    gray = cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY)
    scale = radius / (8.0 * d)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, scale=scale)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, scale=scale)
    busy = cv2.magnitude(gx, gy)
    del gx, gy, gray
    busy = cv2.GaussianBlur(busy, (0, 0), 1.0) * (1.0 / 30.0)
    np.minimum(busy, 1.0, out=busy)
    smallest = radius * (1.0 - 0.75 * float(detail))
    # at least 2 px: 1-px cells cost 4x the default's for dots no one sees
    grid = max(2, int(0.9 * smallest / math.sqrt(float(density) * 1.8)))
    # cells of the whole image: at most _MAX_CELLS * 2 (a bounded cost)
    grid = max(grid, math.ceil(math.sqrt(h * w / (2 * _MAX_CELLS))))
    ncx = -(-w // grid)
    ncy = -(-h // grid)
    rows_per_chunk = max(1, _CHUNK_BYTES // (ncx * 24))
    all_dots, all_cols, all_ids = [], [], []
    kernels = _kernels()
    for cy0 in range(0, ncy, rows_per_chunk):
        cy1 = min(ncy, cy0 + rows_per_chunk)
        ncells = (cy1 - cy0) * ncx
        dots = np.empty((ncells, 3), np.float32)
        cols = np.empty((ncells, 3), np.float32)
        kernels.pointillism_dots(
            ref, busy, 1.0 / d, grid, h, w, cy0, cy1, radius, float(detail),
            float(density), float(color_jitter), seed, dots, cols,
        )  # fmt: skip
        chosen = np.flatnonzero(dots[:, 2])
        all_dots.append(dots[chosen])
        all_cols.append(cols[chosen])
        all_ids.append(chosen + cy0 * ncx)
    # A detailed 12 MP photo has ~0.7 M dots, 32 bytes each with their keys:
    # the reference goes first, and every array is replaced by its sorted
    # copy one at a time, so that no more than one extra copy is alive.
    del ref, busy
    release_heap()
    keys = _hash_keys(seed, 0, np.concatenate(all_ids))
    del all_ids
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    dots = np.concatenate(all_dots)
    del all_dots
    dots = dots[order]
    cols = np.concatenate(all_cols)
    del all_cols
    cols = cols[order]
    return dots, cols, keys


def pointillism(
    image: np.ndarray,
    dot_size: int,
    detail: float,
    density: float,
    color_jitter: float,
) -> np.ndarray:
    """Pointillism: dots of pure colour that mix in the eye, as Seurat painted.

    The photo is blurred in proportion to the dots (``INTER_AREA`` resize +
    ``GaussianBlur``, ``sigma = dot_size / 2``) and its local detail
    measured as the ``Sobel`` gradient of the luma, in grey levels per dot
    radius, blurred and mapped to 0..1. On a jittered grid fine enough for
    the smallest dots, each cell gets a dot with the probability that gives
    ``density`` coats of paint at the dot size wanted there: dots shrink
    (and crowd) where the photo has detail, and crowd in dark areas so
    that they stay dark on the light canvas. Each dot has the reference
    colour with 1.7x its chroma; with ``color_jitter`` some take a
    neighbouring hue (+-35 deg) or the complementary one, as in
    divisionism. Dots are painted in a shuffled order as anti-aliased discs
    (:func:`processing.kernels.paint_strokes`) on a ground of the light
    canvas washed with the photo's broad colours (:func:`_small_ground`).

    Args:
        image: ``HxWx3`` uint8 BGR.
        dot_size: radius of the largest dots in pixels, 4..40.
        detail: 0..1, how much smaller dots get in detailed areas (down to
            a quarter of ``dot_size`` at 1).
        density: 0.5..1.5, coats of dots (1: about 75 % of the canvas covered
            in mid tones, more in dark ones).
        color_jitter: 0..1, share of neighbouring and complementary hues.

    Returns:
        ``HxWx3`` uint8. Deterministic: the dots' randomness is seeded by
        :func:`recipe_seed` of the parameters and the image size.
    """
    src = np.ascontiguousarray(image)
    h, w = src.shape[:2]
    with _KERNEL_LOCK:
        kernels = _kernels()
        # the ground's small copy first: the photo is read no more after
        # the plan (and its pages may go, see release_input)
        ground = _small_ground(src)
        dots, cols, keys = plan_dots(src, dot_size, detail, density, color_jitter)
        release_input()
        # the painter's contiguous positions and radii replace the dots
        pts = np.ascontiguousarray(dots[:, :2])
        radii = np.ascontiguousarray(dots[:, 2])
        del dots
        starts = np.arange(len(radii) + 1, dtype=np.int64)
        release_heap()  # the plan's freed temporaries, before the canvas
        canvas = cv2.resize(ground, (w, h), interpolation=cv2.INTER_LINEAR)
        del ground
        band = max(16, -(-h // (8 * kernels.numba.get_num_threads())))
        kernels.paint_strokes(canvas, pts, starts, cols, radii, keys, 0.1, 0.0, band)
    return canvas
