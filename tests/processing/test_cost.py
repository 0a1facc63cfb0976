"""A render's cost must not explode with its parameters.

The stroke styles bound theirs by design: brush radii of at least 3 px,
grid cells of at least 6 px, stroke grids that widen with the stroke length
(processing.brushwork), dots of at least 4 px radius.

Users can move every slider to the end; render jobs have a fixed timeout
(``STUDIO_JOB_TIMEOUT``). The domain-transform filters (watercolour, cartoon,
pencils) are box sums over a transformed domain and must cost O(pixels)
whatever ``sigma_s``; the oil window grows with ``size`` only linearly in its
half-size. Measured in CPU time (``time.process_time``, all threads) as
ratios on the same image, so the checks hold on a loaded machine.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import processing
from processing import STYLES, render

#: Max allowed ratio to the default-parameter CPU time (measured: <= 2x).
FACTOR = 6.0
#: The issue's bar, held by the styles added with it (measured: <= 1.8x).
FACTOR_NEW = 2.0
NEW_STYLES = ("cartoon", "impressionist", "pointillism", "ink_wash")
#: Absolute slack for timer granularity and scheduler noise, seconds.
SLACK = 0.03
SIZE = (320, 960)  # modest, but rows longer than a 300-px box radius
#: The new styles cost ~0.1 s here: big enough for a 2x bar next to SLACK.
SIZE_NEW = (640, 1920)


def _cpu(image: np.ndarray, slug: str, params: dict, repeat: int = 3) -> float:
    """Best-of-``repeat`` CPU seconds of one render."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        render(image, slug, **params)
        best = min(best, time.process_time() - start)
    return best


def _settings(slug: str) -> list[tuple[str, dict]]:
    """Every parameter at each end (the generic strength and keep_colors too)."""
    spec = STYLES[slug]
    cases = [
        (f"{p.name}={bound}", {p.name: getattr(p, bound)})
        for p in spec.params
        for bound in ("min", "max")
    ]
    cases.append(
        ("half strength, keep colours", {"strength": 0.5, "keep_colors": True})
    )
    cases.append(("all-max", {p.name: p.max for p in spec.params}))
    cases.append(("all-min", {p.name: p.min for p in spec.params}))
    return cases


def _with_sky(image: np.ndarray) -> np.ndarray:
    """A flat sky over the top two thirds, as in many photos.

    In flat areas the domain-transform box spans its full radius in pixels
    (on texture it spans a few pixels), so a cost that follows the radius
    shows there.
    """
    image[: image.shape[0] * 2 // 3] = (200, 170, 120)
    return image


@pytest.fixture
def cost_image(photo):
    processing.warm_up()  # compile/load every kernel outside the timings
    return _with_sky(photo(*SIZE, seed=21))


@pytest.mark.parametrize("slug", list(STYLES))
def test_parameter_extremes_cost_like_defaults(slug, photo):
    """Every parameter at min and max (and all at max) stays near the default cost.

    The issue asks for 2x; the styles it added are held to that, on an image
    large enough for their default render to be well above the timer noise.
    """
    processing.warm_up()  # compile/load every kernel outside the timings
    new = slug in NEW_STYLES
    image = _with_sky(photo(*(SIZE_NEW if new else SIZE), seed=21))
    factor = FACTOR_NEW if new else FACTOR
    base = _cpu(image, slug, {}, repeat=5 if new else 3)
    slow = {}
    for label, params in _settings(slug):
        limit = factor * base + SLACK
        spent = _cpu(image, slug, params, repeat=1)
        if spent > limit:  # re-measure before blaming the code
            spent = _cpu(image, slug, params)
        if spent > limit:
            slow[label] = round(spent / base, 1)
    assert not slow, f"{slug}: x default CPU time {base:.3f}s: {slow}"


@pytest.mark.parametrize(
    "slug", [s for s in STYLES if any(p.name == "sigma_s" for p in STYLES[s].params)]
)
def test_domain_transform_cost_independent_of_sigma_s(slug, cost_image):
    """O(pixels): a 300-px box radius costs what a 1.5-px one does.

    Catches any loop over the window (or band overlap, or dilation) whose
    length follows ``sigma_s``: a per-pixel scan of the window measured
    9-11x here (the two-pointer sweep: ~1x).
    """
    tiny = _cpu(cost_image, slug, {"sigma_s": 1.0})
    sigma_s = next(p for p in STYLES[slug].params if p.name == "sigma_s")
    huge = _cpu(cost_image, slug, {"sigma_s": sigma_s.max})
    assert huge <= FACTOR * tiny + SLACK, (slug, tiny, huge)


@pytest.mark.slow
@pytest.mark.parametrize("slug", list(STYLES))
def test_all_max_parameters_at_12mp(slug, photo):
    """The job-timeout case: every slider at the end on a 12 MP photo.

    Banded filters whose band overlap grew with ``sigma_s`` once made this
    40-100x the default time (only above 3 MP, hence this size).
    """
    processing.warm_up()
    image = _with_sky(photo(3000, 4000, seed=22))
    base = _cpu(image, slug, {}, repeat=1)
    params = {p.name: p.max for p in STYLES[slug].params}
    spent = _cpu(image, slug, params, repeat=1)
    if spent > FACTOR * base:
        spent = _cpu(image, slug, params, repeat=2)
    assert spent <= FACTOR * base, (slug, base, spent)
