"""What every style shares: strength, keep_colors, versions, canonical and
preview-scaled parameters."""

from __future__ import annotations

import hashlib
import json
import math

import cv2
import numpy as np
import pytest

import processing
from processing import (
    ENGINE_VERSION,
    GENERIC_PARAMS,
    STYLES,
    canonical_params,
    render,
    scale_params,
    style_version,
    validate_params,
)

SLUGS = list(STYLES)
SIZES = [(1, 1), (2, 3), (37, 53), (120, 160)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


# --- strength ------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("slug", SLUGS)
def test_strength_endpoints(slug, size, photo):
    image = photo(*size, seed=31)
    before = image.copy()
    styled = render(image, slug)
    assert render(image, slug, strength=1).tobytes() == styled.tobytes()
    photo_back = render(image, slug, strength=0)
    assert psnr(photo_back, image) > 40
    np.testing.assert_array_equal(photo_back, image)  # exactly, in fact
    assert not np.shares_memory(photo_back, image)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("slug", SLUGS)
def test_strength_is_monotonic(slug, photo):
    """Every pixel moves from the photo towards the style as strength grows."""
    image = photo(90, 120, seed=32)
    styled = render(image, slug).astype(np.int16)
    previous = None
    for strength in np.linspace(0.0, 1.0, 11):
        out = render(image, slug, strength=float(strength)).astype(np.int16)
        distance = np.abs(out - styled)
        low, high = np.minimum(image, styled), np.maximum(image, styled)
        assert (out >= low).all() and (out <= high).all()
        if previous is not None:
            assert (distance <= previous).all(), strength
            # and the blend really moves: on average, not only at the ends
            assert distance.mean() < previous.mean() or previous.mean() == 0
        previous = distance
    assert previous.max() == 0


# --- keep_colors -------------------------------------------------------------


def chroma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(np.int16)


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.int16)


@pytest.mark.parametrize("slug", SLUGS)
def test_keep_colors_keeps_chroma_takes_style_lightness(slug, photo):
    # photo-like saturation (the synthetic photo's pure primaries clip under
    # any light style)
    image = (photo(120, 160, seed=33) * 0.6 + 50).astype(np.uint8)
    styled = render(image, slug)
    kept = render(image, slug, keep_colors=True)
    assert kept.shape == image.shape and kept.dtype == np.uint8
    # the photo's chroma: exactly but for rounding where the result is inside
    # the RGB cube; a light style clips saturated colours (pencil's paper)
    diff = np.abs(chroma(kept) - chroma(image)).max(axis=2)
    inside = ((kept > 0) & (kept < 255)).all(axis=2)
    assert inside.mean() > 0.5
    assert diff[inside].mean() < 1.5
    assert diff.mean() < 4.0
    # the style's lightness, not the photo's
    assert np.abs(luma(kept) - luma(styled)).mean() < 2.0
    assert np.abs(luma(kept) - luma(image)).mean() > 3.0
    assert render(image, slug, keep_colors="off").tobytes() == styled.tobytes()


def test_keep_colors_tints_the_gray_pencil(photo):
    image = photo(120, 160, seed=34)
    gray = render(image, "pencil")
    assert np.array_equal(gray[..., 0], gray[..., 2])
    tinted = render(image, "pencil", keep_colors="on")
    assert np.abs(tinted[..., 0].astype(int) - tinted[..., 2]).mean() > 3
    assert np.abs(luma(tinted) - luma(gray)).mean() < 2.0


def test_keep_colors_with_strength(photo):
    """keep_colors first, then strength blends that with the photo."""
    image = photo(60, 80, seed=35)
    kept = render(image, "oil", keep_colors=True)
    half = render(image, "oil", keep_colors=True, strength=0.5).astype(int)
    expected = (image.astype(int) + kept) / 2
    assert np.abs(half - expected).max() <= 1
    np.testing.assert_array_equal(
        render(image, "oil", keep_colors=True, strength=0), image
    )


# --- bool coercion -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (np.bool_(True), True),
        (np.int64(0), False),
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        ("on", True),
        (" Off ", False),
    ],
)
def test_bool_coercion(value, expected):
    result = validate_params("cartoon", {"keep_colors": value})["keep_colors"]
    assert result is expected


@pytest.mark.parametrize(
    "value", [2, -1, 0.5, 1.0, "yes", "no", "", "2", None, [], [1], "truee"]
)
def test_bool_coercion_refuses(value):
    with pytest.raises(ValueError, match="keep_colors"):
        validate_params("pencil", {"keep_colors": value})


@pytest.mark.parametrize("value", [-0.05, 1.01, "x", True, float("nan")])
def test_strength_refuses(value):
    with pytest.raises(ValueError, match="strength"):
        validate_params("oil", {"strength": value})


@pytest.mark.parametrize("slug", SLUGS)
def test_validate_returns_every_param(slug):
    result = validate_params(slug, {"strength": "0.5", "keep_colors": "on"})
    assert list(result) == [p.name for p in STYLES[slug].params]
    assert result["strength"] == 0.5 and result["keep_colors"] is True
    assert validate_params(slug, None) == STYLES[slug].defaults()


# --- versions and canonical recipes -------------------------------------------


def test_style_versions():
    assert ENGINE_VERSION == "1.1"  # still importable, unchanged
    for slug in ("pencil", "color_pencil", "oil", "watercolor"):
        assert style_version(slug) == "1.1"  # stored results stay reusable
    assert style_version("cartoon") not in ("", "1.1")  # its pixels changed
    for slug in ("impressionist", "pointillism", "ink_wash"):
        assert style_version(slug)
    with pytest.raises(ValueError, match="nope"):
        style_version("nope")


def _old_recipe_hash(style: str, params: dict) -> str:
    return hashlib.sha256(
        json.dumps([style, params], sort_keys=True).encode()
    ).hexdigest()


@pytest.mark.parametrize("slug", SLUGS)
def test_canonical_params_hash_like_recipes_made_before(slug):
    """A recipe from before strength/keep_colors hashes as it did."""
    own = {p.name: p.default for p in STYLES[slug].style_params}
    assert canonical_params(slug, own) == own
    assert canonical_params(slug, None) == own
    with_defaults = {**own, "strength": 1, "keep_colors": "off"}
    assert _old_recipe_hash(slug, canonical_params(slug, with_defaults)) == (
        _old_recipe_hash(slug, own)
    )
    changed = canonical_params(slug, {"strength": 0.4, "keep_colors": True})
    assert changed == {**own, "strength": 0.4, "keep_colors": True}
    assert canonical_params(slug, {"keep_colors": 1}) == {**own, "keep_colors": True}


def test_old_cartoon_recipes_still_validate():
    old = {
        "sigma_s": 40.0,
        "sigma_r": 0.3,
        "levels": 8,
        "line_width": 2,
        "edge_threshold": 0.1,
    }
    assert canonical_params("cartoon", old) == old
    assert render(np.zeros((8, 8, 3), np.uint8), "cartoon", **old).shape == (8, 8, 3)


def test_generic_params_declared_once():
    names = [p.name for p in GENERIC_PARAMS]
    assert names == ["strength", "keep_colors"]
    for style in STYLES.values():
        assert style.params[-2:] == GENERIC_PARAMS
        assert not {p.name for p in style.style_params} & set(names)


# --- preview scaling -----------------------------------------------------------


def test_scale_params_scales_pixel_units_only():
    full = validate_params("impressionist", {"brush_size": 40, "detail": 0.7})
    half = scale_params("impressionist", full, 0.5)
    assert half["brush_size"] == 20 and type(half["brush_size"]) is int
    assert half["detail"] == 0.7 and half["layers"] == full["layers"]
    assert scale_params("impressionist", full, 1.0) == full
    # clamped to the range, never rounded to 0 when positive
    assert scale_params("impressionist", full, 0.01)["brush_size"] == 4
    assert scale_params("cartoon", {"line_width": 2}, 0.1)["line_width"] == 1
    assert scale_params("cartoon", {"line_width": 0}, 0.1)["line_width"] == 0
    assert scale_params("oil", {"size": 7}, 0.128)["size"] == 1
    assert scale_params("oil", {"size": 3}, 3.0)["size"] == 9
    assert scale_params("oil", {"size": 7}, 10.0)["size"] == 15
    assert scale_params("watercolor", {"sigma_s": 60}, 0.25)["sigma_s"] == 15.0
    assert scale_params("cartoon", None, 0.5)["sigma_r"] == 0.3
    for slug in SLUGS:
        scaled = scale_params(slug, None, 0.128)
        assert validate_params(slug, scaled) == scaled
    for bad in (0, -1, float("nan"), float("inf"), "2", True):
        with pytest.raises(ValueError, match="scale"):
            scale_params("oil", None, bad)


def test_pixel_units_marked():
    px = {
        slug: sorted(p.name for p in style.params if p.unit == "px")
        for slug, style in STYLES.items()
    }
    assert px["oil"] == ["size"]
    assert px["impressionist"] == ["brush_size"]
    assert px["pointillism"] == ["dot_size"]
    assert px["cartoon"] == ["line_width", "sigma_s"]
    assert px["ink_wash"] == ["line_width", "sigma_s"]
    assert px["watercolor"] == ["sigma_s"]
    # the pencils' shading counts pixels in the window: measured, a scaled
    # sigma_s makes their previews less like the shrunk result, not more
    assert px["pencil"] == px["color_pencil"] == []


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma, 11x11 Gaussian window (sigma 1.5)."""
    x = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY).astype(np.float32)
    y = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY).astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(v):
        return cv2.GaussianBlur(v, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


@pytest.fixture(scope="module")
def real_photo():
    """scikit-image's astronaut (bundled with the wheel, no download), BGR."""
    data = pytest.importorskip("skimage.data")
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize(
    ("slug", "params"),
    [
        ("impressionist", {}),
        ("impressionist", {"brush_size": 40, "layers": 2}),
        ("pointillism", {}),
        ("pointillism", {"dot_size": 12}),
        ("oil", {"size": 12}),
        ("cartoon", {"line_width": 6}),
        ("ink_wash", {"line_width": 9}),
    ],
)
def test_scaled_preview_looks_like_downscaled_full_render(slug, params, real_photo):
    """A 1/3 preview with scaled parameters resembles the full render, shrunk.

    Without scaling a preview's brushes are 3x too large for the picture.
    Brush marks are random, so the comparison is at the scale the eye reads
    a painting from (SSIM after a Gaussian blur of 2 px); measured margins
    are 0.07-0.3.
    """
    small = real_photo
    full_image = cv2.resize(small, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    full = render(full_image, slug, **params)
    shrunk = cv2.resize(full, (512, 512), interpolation=cv2.INTER_AREA)
    scaled = render(small, slug, **scale_params(slug, params, 1 / 3))
    unscaled = render(small, slug, **params)

    def seen(image):
        return cv2.GaussianBlur(image, (0, 0), 2.0)

    assert (
        _ssim(seen(shrunk), seen(scaled)) > _ssim(seen(shrunk), seen(unscaled)) + 0.04
    )


def test_processing_exports():
    for name in (
        "GENERIC_PARAMS",
        "canonical_params",
        "scale_params",
        "style_version",
    ):
        assert name in processing.__all__
