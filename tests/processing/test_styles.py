"""Registry, parameter validation and rendering of every style."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

import processing
from processing import STYLES, Param, Style, render, validate_params

SLUGS = [
    "pencil",
    "color_pencil",
    "oil",
    "watercolor",
    "cartoon",
    "impressionist",
    "pointillism",
    "ink_wash",
]
SIZES = [(1, 1), (1, 17), (17, 1), (2, 2), (37, 53), (300, 4000)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def test_registry_order_and_shape():
    assert list(STYLES) == SLUGS
    for slug, style in STYLES.items():
        assert isinstance(style, Style)
        assert style.slug == slug
        assert style.label and style.description
        assert callable(style.func)
        assert style.style_params
        assert isinstance(style.version, str) and style.version
        assert style.params == style.style_params + processing.GENERIC_PARAMS
        names = [p.name for p in style.params]
        assert len(names) == len(set(names)), slug
        for p in style.params:
            assert isinstance(p, Param)
            assert p.type in ("int", "float", "bool")
            assert p.unit in ("", "px")
            assert p.label
            assert p.min <= p.default <= p.max
            assert p.step > 0
            if p.type == "bool":
                assert (p.default, p.min, p.max, p.step) in (
                    (False, False, True, 1),
                    (True, False, True, 1),
                )
                assert type(p.default) is bool
                continue
            py_type = int if p.type == "int" else float
            for value in (p.default, p.min, p.max, p.step):
                assert type(value) is py_type, (slug, p.name, value)


def test_engine_version_is_string():
    assert isinstance(processing.ENGINE_VERSION, str)
    assert processing.ENGINE_VERSION


@pytest.mark.parametrize("slug", SLUGS)
def test_validate_defaults(slug):
    result = validate_params(slug, None)
    assert result == {p.name: p.default for p in STYLES[slug].params}
    assert validate_params(slug, {}) == result


def test_validate_coerces_strings_and_types():
    result = validate_params("oil", {"size": "5", "dyn_ratio": 2.0})
    assert result == {"size": 5, "dyn_ratio": 2, "strength": 1.0, "keep_colors": False}
    assert type(result["size"]) is int and type(result["dyn_ratio"]) is int
    result = validate_params("watercolor", {"sigma_s": "80", "sigma_r": 1})
    assert result == {
        "sigma_s": 80.0,
        "sigma_r": 1.0,
        "strength": 1.0,
        "keep_colors": False,
    }
    assert type(result["sigma_s"]) is float and type(result["sigma_r"]) is float


@pytest.mark.parametrize(
    ("style", "params", "name"),
    [
        ("watercolor", {"sigma_s": 201}, "sigma_s"),
        ("watercolor", {"sigma_s": -1}, "sigma_s"),
        ("watercolor", {"sigma_r": "abc"}, "sigma_r"),
        ("watercolor", {"sigma_r": float("nan")}, "sigma_r"),
        ("watercolor", {"sigma_r": "inf"}, "sigma_r"),
        ("watercolor", {"sigma_r": None}, "sigma_r"),
        ("watercolor", {"sigma_r": True}, "sigma_r"),
        ("watercolor", {"sigma_r": [1]}, "sigma_r"),
        ("oil", {"size": 2.5}, "size"),
        ("oil", {"size": 0}, "size"),
        ("pencil", {"bogus": 1}, "bogus"),
    ],
)
def test_validate_refuses(style, params, name):
    with pytest.raises(ValueError, match=name):
        validate_params(style, params)


def test_validate_unknown_style():
    with pytest.raises(ValueError, match="nope"):
        validate_params("nope", {})
    with pytest.raises(ValueError, match="nope"):
        render(np.zeros((4, 4, 3), np.uint8), "nope")


def test_range_message_is_readable():
    with pytest.raises(ValueError, match="sigma_s must be between 0 and 200"):
        validate_params("watercolor", {"sigma_s": 500})


PARAM_CASES = [
    (slug, p, bound)
    for slug in SLUGS
    for p in STYLES[slug].params
    for bound in ("min", "max")
    if p.type != "bool"  # no value outside a bool's range (see test_generic)
]


@pytest.mark.parametrize(
    ("slug", "param", "bound"),
    PARAM_CASES,
    ids=[f"{s}-{p.name}-{b}" for s, p, b in PARAM_CASES],
)
def test_param_bounds_accepted_and_outside_refused(slug, param, bound, photo):
    value = getattr(param, bound)
    image = photo(37, 53)
    out = render(image, slug, **{param.name: value})
    assert out.shape == image.shape and out.dtype == np.uint8
    outside = value - param.step if bound == "min" else value + param.step
    with pytest.raises(ValueError, match=param.name):
        render(image, slug, **{param.name: outside})


@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
@pytest.mark.parametrize("slug", SLUGS)
def test_render_shape_dtype_input_untouched_deterministic(slug, size, photo):
    image = photo(*size, seed=3)
    before = image.copy()
    out = render(image, slug)
    assert out.shape == image.shape
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert not np.shares_memory(out, image)
    np.testing.assert_array_equal(image, before)
    again = render(image, slug)
    assert out.tobytes() == again.tobytes()
    if slug == "pencil":
        assert np.array_equal(out[..., 0], out[..., 1])
        assert np.array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize("slug", SLUGS)
def test_render_non_contiguous_input(slug, photo):
    big = photo(80, 120, seed=5)
    view = big[::2, ::2]
    assert not view.flags.c_contiguous
    out = render(view, slug)
    expected = render(np.ascontiguousarray(view), slug)
    np.testing.assert_array_equal(out, expected)
    rgb_view = big[:, :, ::-1]
    assert render(rgb_view, slug).shape == big.shape


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((0, 4, 3), np.uint8),
        [[1, 2, 3]],
    ],
    ids=["2d", "4ch", "float", "empty", "list"],
)
def test_render_refuses_bad_images(bad):
    with pytest.raises(ValueError):
        render(bad, "pencil")


def test_render_output_looks_like_the_style(photo):
    image = photo(120, 160, seed=1)
    pencil = render(image, "pencil")
    assert pencil.std() > 5  # strokes on paper, not a flat fill
    color = render(image, "color_pencil")
    assert np.abs(color[..., 0].astype(int) - color[..., 2]).mean() > 2  # has colour
    # cartoon, impressionist, pointillism, ink_wash: test_cartoon.py,
    # test_brushwork.py


# --- fidelity against the OpenCV built-ins at small sizes -------------------

FIDELITY_SIZES = [(97, 131), (240, 320)]


@pytest.mark.parametrize("size", FIDELITY_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_watercolor_matches_stylization(size, photo):
    image = photo(*size, seed=11)
    ours = render(image, "watercolor", sigma_s=60, sigma_r=0.45)
    ref = cv2.stylization(image, sigma_s=60, sigma_r=0.45)
    assert psnr(ours, ref) >= 38


@pytest.mark.parametrize("size", FIDELITY_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "params",
    [
        {"sigma_s": 60, "sigma_r": 0.07, "shade_factor": 0.02},
        {"sigma_s": 20, "sigma_r": 0.15, "shade_factor": 0.05},
    ],
)
def test_pencil_matches_pencil_sketch(size, params, photo):
    image = photo(*size, seed=12)
    gray_ref, color_ref = cv2.pencilSketch(image, **params)
    gray = render(image, "pencil", **params)
    color = render(image, "color_pencil", **params)
    assert psnr(gray[..., 0], gray_ref) >= 40
    assert psnr(color, color_ref) >= 40


@pytest.mark.parametrize(
    "params", [{"size": 7, "dyn_ratio": 1}, {"size": 3, "dyn_ratio": 4}]
)
def test_oil_matches_xphoto(params, photo):
    image = photo(120, 160, seed=13)
    ours = render(image, "oil", **params)
    ref = cv2.xphoto.oilPainting(image, params["size"], params["dyn_ratio"])
    np.testing.assert_array_equal(ours, ref)  # pixel-identical


# --- no float32 index artefacts at full phone resolution --------------------


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["watercolor", "color_pencil", "cartoon"])
def test_no_stripes_at_12mp(slug, photo):
    """A crop rendered alone must match the same region of the 12 MP render.

    The built-in NC filter corrupts the blue channel above ~5.6 MP (float32
    pixel indices); a local filter gives the same pixels either way.
    """
    image = photo(3000, 4000, seed=21)
    full = render(image, slug)
    y0, y1, x0, x1 = 2200, 3000, 3000, 4000
    crop = render(np.ascontiguousarray(image[y0:y1, x0:x1]), slug)
    margin = 320
    ours = full[y0 + margin : y1, x0 + margin : x1]
    ref = crop[margin:, margin:]
    for channel in range(3):
        assert psnr(ours[..., channel], ref[..., channel]) >= 45, channel


def test_render_from_several_threads(photo):
    """Web threads may render previews concurrently (Numba kernels serialised)."""
    from concurrent.futures import ThreadPoolExecutor

    image = photo(200, 300, seed=9)
    expected = {slug: render(image, slug) for slug in SLUGS}
    with ThreadPoolExecutor(4) as pool:
        futures = [(slug, pool.submit(render, image, slug)) for slug in SLUGS * 2]
        for slug, future in futures:
            np.testing.assert_array_equal(future.result(), expected[slug])


def test_warm_up_and_fork_safe_kernels(photo):
    """rq forks a job after the parent warmed the kernels: the child must work."""
    import os

    processing.warm_up()
    image = photo(60, 80, seed=4)
    expected = {slug: render(image, slug) for slug in SLUGS}
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            for slug in SLUGS:
                if not np.array_equal(render(image, slug), expected[slug]):
                    code = 3
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def _kernel_signatures() -> dict[str, int]:
    from numba.core.registry import CPUDispatcher

    from processing import kernels

    return {
        name: len(value.signatures)
        for name, value in vars(kernels).items()
        if isinstance(value, CPUDispatcher)
    }


@pytest.mark.parametrize("slug", SLUGS)
def test_warm_up_loads_every_kernel_a_large_photo_calls(slug, photo, monkeypatch):
    """After ``warm_up`` a job compiles nothing and loads nothing from
    Numba's cache: a new argument type (ink wash's writable shrunk copy was
    one) pulled LLVM into every 12 MP ink wash job (~40 MB, its peak
    315 -> 271 MB). The size thresholds are lowered so that a small photo
    takes every large photo's path; each parameter goes to both ends of
    its range (watercolour's sigma_s 0 reaches a kernel of its own)."""
    from processing import looks

    processing.warm_up()
    before = _kernel_signatures()
    monkeypatch.setattr(looks, "_INK_HALF_PIXELS", 1000)
    image = photo(90, 120, seed=6)
    extremes = [{}, {"strength": 0.5, "keep_colors": True}]
    for param in STYLES[slug].style_params:
        extremes += [{param.name: param.min}, {param.name: param.max}]
    for params in extremes:
        render(image, slug, **params)
    after = _kernel_signatures()
    assert {k: v for k, v in after.items() if v != before[k]} == {}


def test_watercolor_matches_stylization_other_params(photo):
    image = photo(150, 200, seed=14)
    ours = render(image, "watercolor", sigma_s=30, sigma_r=0.3)
    ref = cv2.stylization(image, sigma_s=30, sigma_r=0.3)
    assert psnr(ours, ref) >= 45


@pytest.mark.parametrize(
    ("size", "params"),
    [
        ((61, 83), {"size": 15, "dyn_ratio": 1}),
        ((40, 50), {"size": 1, "dyn_ratio": 127}),
        ((1, 40), {"size": 4, "dyn_ratio": 2}),
        ((40, 1), {"size": 4, "dyn_ratio": 2}),
        ((9, 7), {"size": 12, "dyn_ratio": 3}),
    ],
    ids=["size15", "dyn127", "one-row", "one-col", "window-wider-than-image"],
)
def test_oil_matches_xphoto_edge_cases(size, params, photo):
    """The bounded rescan and int32 sums keep the built-in's bits everywhere."""
    image = photo(*size, seed=15)
    ours = render(image, "oil", **params)
    ref = cv2.xphoto.oilPainting(image, params["size"], params["dyn_ratio"])
    np.testing.assert_array_equal(ours, ref)


def test_oil_matches_xphoto_on_noise():
    """Pure noise: every level occupied, ties everywhere (lowest level wins)."""
    image = np.random.default_rng(16).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    ours = render(image, "oil", size=7, dyn_ratio=1)
    np.testing.assert_array_equal(ours, cv2.xphoto.oilPainting(image, 7, 1))


def test_pencil_default_shade_is_lighter_than_opencv_default(photo):
    """Gray pencil defaults to shade 0.05 (OpenCV's tutorial value), not 0.02."""
    assert STYLES["pencil"].defaults()["shade_factor"] == 0.05
    assert STYLES["color_pencil"].defaults()["shade_factor"] == 0.02
    image = photo(120, 160, seed=17)
    light = render(image, "pencil")
    dark = render(image, "pencil", shade_factor=0.02)
    assert light.mean() > 2 * dark.mean()
    gray_ref, _ = cv2.pencilSketch(image, sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    np.testing.assert_array_equal(light[..., 0], gray_ref)


@pytest.mark.parametrize("value", [10**400, -(10**400), 2**1024])
def test_integers_beyond_float_range_are_a_value_error(value):
    with pytest.raises(ValueError, match="size must be between"):
        validate_params("oil", {"size": value})


#: The styles that give their input's pages back mid-render when the caller
#: gives the photo up (the others read it until their last pixel).
RELEASE_INPUT = {"watercolor", "cartoon", "ink_wash", "impressionist", "pointillism"}


@pytest.mark.parametrize("slug", SLUGS)
def test_a_photo_given_up_renders_the_same(slug, photo, monkeypatch):
    """``render(consume=True)`` lets a style drop its input's pages once it
    is done with it (the job gives a 12 MP photo up: 36 MB less at the
    peak). A style that read its input after that would read zeros: every
    style, both ends of every parameter and the large-photo paths render
    the same either way; the given-up photo has lost pages only in the
    styles that release it, and never when keep_colors or strength read it
    again after the style."""
    from processing import looks

    monkeypatch.setattr(looks, "_INK_HALF_PIXELS", 1000)
    image = np.maximum(photo(160, 240, seed=9), 1)  # no zero byte of its own
    extremes = [{}, {"strength": 0.5}, {"keep_colors": True}]
    for param in STYLES[slug].style_params:
        extremes += [{param.name: param.min}, {param.name: param.max}]
    for params in extremes:
        given = image.copy()
        kept = render(image, slug, **params)
        assert np.array_equal(render(given, slug, consume=True, **params), kept), params
        reread = params.get("keep_colors") or params.get("strength", 1.0) < 1.0
        released = slug in RELEASE_INPUT and not reread
        assert (np.count_nonzero(given) < given.size) == released, params
    assert np.array_equal(image, np.maximum(photo(160, 240, seed=9), 1))
