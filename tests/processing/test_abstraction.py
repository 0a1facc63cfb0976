"""Cartoon (Winnemoeller et al. 2006 + flow XDoG lines) and ink wash."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from processing import render


def gradient(height: int, width: int, color: bool) -> np.ndarray:
    """A smooth horizontal ramp, as a clear sky: 30 -> 230 over the width."""
    ramp = np.linspace(30, 230, width, dtype=np.float32)[None, :].repeat(height, 0)
    image = np.empty((height, width, 3), np.float32)
    if color:
        image[..., 0] = ramp
        image[..., 1] = 0.6 * ramp + 40
        image[..., 2] = 0.3 * ramp + 20
    else:
        image[:] = ramp[..., None]
    return np.round(image).astype(np.uint8)


def shapes(height: int = 240, width: int = 320) -> np.ndarray:
    image = np.full((height, width, 3), (200, 190, 170), np.uint8)
    cv2.rectangle(image, (30, 40), (140, 200), (40, 120, 220), -1)
    cv2.circle(image, (230, 120), 60, (160, 60, 40), -1, cv2.LINE_AA)
    noise = np.random.default_rng(51).normal(0, 4, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("color", [False, True], ids=["gray", "colour"])
@pytest.mark.parametrize(
    ("size", "levels"), [((128, 256), 8), ((200, 600), 4), ((100, 1200), 16)]
)
def test_cartoon_has_no_bands_on_smooth_gradients(size, levels, color):
    """WOG's soft quantisation: no hard tone steps on a sky.

    Hard quantisation steps by 255 / levels grey levels (32 at 8 levels);
    the tanh ramps keep every neighbour step within a few levels.
    """
    image = gradient(*size, color)
    out = render(image, "cartoon", levels=levels).astype(np.int16)
    inner = out[8:-8, 8:-8]
    step_x = np.abs(np.diff(inner, axis=1)).max()
    step_y = np.abs(np.diff(inner, axis=0)).max()
    assert step_x <= 4 and step_y <= 4, (step_x, step_y)
    # still a gradient, not flattened to one tone
    assert inner[:, -1].mean() - inner[:, 0].mean() > 90
    # and no outline drawn across a smooth ramp
    luma = cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_BGR2GRAY)[8:-8, 8:-8]
    expected = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[8:-8, 8:-8].astype(int)
    assert (luma < expected - 40).mean() < 0.001


def test_cartoon_keeps_flat_regions_and_dark_outlines():
    image = shapes()
    out = render(image, "cartoon")
    gray = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).astype(np.float32)
    # flat: the noise inside shapes is smoothed away
    for y0, y1, x0, x1 in ((70, 170, 55, 115), (100, 140, 210, 250), (5, 30, 170, 310)):
        assert gray[y0:y1, x0:x1].std() < 2.0
    # outlines: the rectangle's border is drawn darker than both sides
    border = gray[60:180, 138:143].min(axis=1)
    inside = gray[60:180, 120:130].mean()
    outside = gray[60:180, 150:160].mean()
    assert np.median(border) < 0.6 * min(inside, outside)
    # and no outlines without line_width
    plain = cv2.cvtColor(render(image, "cartoon", line_width=0), cv2.COLOR_BGR2GRAY)
    assert plain[60:180, 138:143].min(axis=1).mean() > 0.8 * min(inside, outside)


def test_cartoon_outline_width_follows_line_width():
    image = shapes()
    widths = []
    for line_width in (1, 3, 8):
        gray = cv2.cvtColor(
            render(image, "cartoon", line_width=line_width), cv2.COLOR_BGR2GRAY
        )
        widths.append(int((gray < 60).sum()))
    assert widths[0] < widths[1] < widths[2], widths


def test_cartoon_keeps_hues(photo):
    """Only the lightness is quantised: the chroma follows the smoothed photo."""
    image = photo(120, 160, seed=52)
    out = render(image, "cartoon", line_width=0)
    smooth = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(int)
    chroma = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(int)
    assert np.abs(chroma - smooth).mean() < 12


def test_ink_wash_looks_like_ink_on_paper():
    image = shapes()
    out = render(image, "ink_wash", color_wash=0.0)
    b, g, r = (out[..., c].astype(int) for c in range(3))
    # warm paper, near-neutral ink: red >= green >= blue everywhere
    assert ((r >= g - 2) & (g >= b - 2)).mean() > 0.99
    gray = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    assert gray[5:30, 170:310].mean() > 180  # light background: bare paper
    assert gray[70:170, 55:115].mean() < gray[5:30, 170:310].mean() - 15  # wash
    assert np.median(gray[60:180, 136:145].min(axis=1)) < 150  # brush line
    # with colour wash, some of the photo's hue comes back
    tinted = render(image, "ink_wash", color_wash=1.0)
    assert tinted[70:170, 55:115, 2].mean() > out[70:170, 55:115, 2].mean() + 10


def test_ink_wash_dry_brush_breaks_the_lines():
    image = shapes()
    wet = cv2.cvtColor(render(image, "ink_wash", dry_brush=0.0), cv2.COLOR_BGR2GRAY)
    dry = cv2.cvtColor(render(image, "ink_wash", dry_brush=1.0), cv2.COLOR_BGR2GRAY)
    line = np.s_[60:180, 136:145]
    assert dry[line].astype(int).mean() > wet[line].astype(int).mean() + 5


@pytest.mark.parametrize(("h", "w"), [(1, 1), (3, 5), (257, 129), (700, 33)])
def test_split_over_the_buffer_matches_the_split_into_new_arrays(h, w):
    """The luma and colours written over the smoothing buffer itself (held
    back in a ring until the rows under them are read, the pages read and
    not yet rewritten given back as the bands go) are those of
    ``split_luma`` into new arrays, on odd sizes (an odd byte offset for
    the luma) and over several bands of rows."""
    from processing import looks
    from processing.kernels import split_luma

    rng = np.random.default_rng(h * w)
    buf = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
    color = np.empty((h, w, 3), np.uint8)
    luma = split_luma(buf.copy(), color)
    with looks._KERNEL_LOCK:
        out, over, _ = looks._split_over_buffer(buf)
    assert np.array_equal(out, color)
    assert np.array_equal(over, luma)
