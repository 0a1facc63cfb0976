"""The style registry, parameter validation and :func:`render`.

Every style is data in :data:`STYLES`: its own parameters
(:attr:`Style.style_params`) and the generic ones every style takes
(:data:`GENERIC_PARAMS`: ``strength`` and ``keep_colors``), which
:func:`render` applies after the style function, in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from processing import brushwork, looks

__all__ = [
    "ENGINE_VERSION",
    "GENERIC_PARAMS",
    "STYLES",
    "Param",
    "Style",
    "canonical_params",
    "render",
    "scale_params",
    "style_version",
    "validate_params",
]

#: The engine's version before styles had their own (:attr:`Style.version`).
#: Still the version of every style whose pixels have not changed since, and
#: kept importable for code that predates per-style versions. A recipe records
#: :func:`style_version` of its style, not this.
ENGINE_VERSION = "1.1"


def gettext_noop(text: str) -> str:
    """Mark a registry text for translation without translating it.

    ``processing`` has no Django; the name is the one ``makemessages``
    extracts, so labels, descriptions and help texts are collected into the
    gallery's catalogue from here, and the pages translate them at runtime.
    """
    return text


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a style.

    Attributes:
        name: keyword passed to the style function.
        type: ``"int"``, ``"float"`` or ``"bool"``.
        default, min, max, step: numbers of that type (min/max inclusive);
            a ``"bool"`` parameter has ``min=False``, ``max=True``, ``step=1``.
        label: short human label for forms and sliders.
        help: one sentence explaining the effect (the range is shown from
            ``min`` and ``max``, never written into the text).
        unit: ``"px"`` for a length measured in image pixels (brush sizes,
            smoothing radii, line widths), which :func:`scale_params` scales
            with the image for previews; ``""`` for anything else.
    """

    name: str
    type: Literal["int", "float", "bool"]
    default: int | float | bool
    min: int | float | bool
    max: int | float | bool
    step: int | float
    label: str
    help: str = ""
    unit: Literal["", "px"] = ""

    def as_dict(self) -> dict[str, Any]:
        """The spec as the API and the editor read it: name, type, default,
        min, max, step (texts are translated by the caller)."""
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
        }


#: Parameters every style takes, applied by :func:`render` after the style
#: function (which never sees them).
GENERIC_PARAMS: tuple[Param, ...] = (
    Param(
        "strength",
        "float",
        1.0,
        0.0,
        1.0,
        0.05,
        gettext_noop("Strength"),
        gettext_noop(
            "How much of the style to apply: 0 gives the photo back, 1 the full style."
        ),
    ),
    Param(
        "keep_colors",
        "bool",
        False,
        False,
        True,
        1,
        gettext_noop("Keep photo colours"),
        gettext_noop(
            "Keep the photo's own colours and take only light and shade from the style."
        ),
    ),
)


@dataclass(frozen=True)
class Style:
    """A rendering style: slug, texts, function, parameter spec and version.

    Attributes:
        slug: stable identifier (URLs, API, stored recipes).
        label, description: texts for people.
        func: ``func(image, **style_params) -> image``.
        style_params: the style's own parameters, passed to ``func``.
        version: changes whenever the pixels this style gives for a recipe
            change; recorded in each recipe, so that a change to one style
            leaves the other styles' stored results reusable.
    """

    slug: str
    label: str
    description: str
    func: Callable[..., np.ndarray]
    style_params: tuple[Param, ...]
    version: str

    @property
    def params(self) -> tuple[Param, ...]:
        """Every parameter: the style's own, then :data:`GENERIC_PARAMS`."""
        return self.style_params + GENERIC_PARAMS

    def defaults(self) -> dict[str, int | float | bool]:
        """Return ``{name: default}`` for every parameter (generic ones included)."""
        return {p.name: p.default for p in self.params}

    def as_dict(self) -> dict[str, Any]:
        """slug, label, description and the parameter specs, untranslated."""
        return {
            "slug": self.slug,
            "label": self.label,
            "description": self.description,
            "params": [p.as_dict() for p in self.params],
        }


_SIGMA_S = Param(
    "sigma_s",
    "float",
    60.0,
    0.0,
    200.0,
    1.0,
    gettext_noop("Smoothing size"),
    gettext_noop("Spatial extent of the edge-preserving smoothing, in pixels."),
    unit="px",
)
# The pencils' sigma_s is a length too, but their shading counts the pixels
# in the window, so a preview with a scaled sigma_s is no closer to the shrunk
# full-size sketch (measured: SSIM 0.40 vs 0.42 unscaled): not marked "px".
_SIGMA_S_PENCIL = Param(
    "sigma_s",
    "float",
    60.0,
    0.0,
    200.0,
    1.0,
    gettext_noop("Smoothing size"),
    gettext_noop("Spatial extent of the edge-preserving smoothing, in pixels."),
)
_SIGMA_R_PENCIL = Param(
    "sigma_r",
    "float",
    0.07,
    0.0,
    1.0,
    0.01,
    gettext_noop("Edge sensitivity"),
    gettext_noop(
        "How different colours must be to count as an edge; lower keeps more edges."
    ),
)
_SHADE = Param(
    "shade_factor",
    "float",
    0.02,
    0.0,
    0.1,
    0.005,
    gettext_noop("Shading"),
    gettext_noop("Brightness of the paper and strokes; higher is lighter."),
)
# Gray pencil: OpenCV's own tutorial value instead of the function default
# 0.02, which leaves the paper mid-gray on clean photos and nearly black on
# noisy ones. Same meaning and range; the pixels for given params are unchanged.
_SHADE_PENCIL = Param(
    "shade_factor",
    "float",
    0.05,
    0.0,
    0.1,
    0.005,
    gettext_noop("Shading"),
    gettext_noop("Brightness of the paper and strokes; higher is lighter."),
)
_COLOR_JITTER = Param(
    "color_jitter",
    "float",
    0.3,
    0.0,
    1.0,
    0.05,
    gettext_noop("Colour variation"),
    gettext_noop(
        "How much each stroke's hue, saturation and value wander from the photo."
    ),
)
_CANVAS = Param(
    "canvas_texture",
    "float",
    0.3,
    0.0,
    1.0,
    0.05,
    gettext_noop("Canvas texture"),
    gettext_noop("How much the weave of the canvas shows through the paint."),
)

STYLES: dict[str, Style] = {
    "pencil": Style(
        slug="pencil",
        label=gettext_noop("Pencil sketch"),
        description=gettext_noop(
            "Gray graphite drawing: strong edges become pencil strokes."
        ),
        func=looks.pencil,
        style_params=(_SIGMA_S_PENCIL, _SIGMA_R_PENCIL, _SHADE_PENCIL),
        version="1.1",
    ),
    "color_pencil": Style(
        slug="color_pencil",
        label=gettext_noop("Colour pencil"),
        description=gettext_noop("Pencil strokes tinted with the photo's own colours."),
        func=looks.color_pencil,
        style_params=(_SIGMA_S_PENCIL, _SIGMA_R_PENCIL, _SHADE),
        version="1.1",
    ),
    "oil": Style(
        slug="oil",
        label=gettext_noop("Oil painting"),
        description=gettext_noop(
            "Thick dabs of paint: each pixel takes the dominant colour around it."
        ),
        func=looks.oil,
        style_params=(
            Param(
                "size",
                "int",
                7,
                1,
                15,
                1,
                gettext_noop("Brush size"),
                gettext_noop(
                    "Neighbourhood radius in pixels (window is 2*size+1 wide)."
                ),
                unit="px",
            ),
            Param(
                "dyn_ratio",
                "int",
                1,
                1,
                127,
                1,
                gettext_noop("Colour simplification"),
                gettext_noop(
                    "Divides the brightness levels; higher gives larger flat patches."
                ),
            ),
        ),
        version="1.1",
    ),
    "watercolor": Style(
        slug="watercolor",
        label=gettext_noop("Watercolour"),
        description=gettext_noop("Soft washes of colour with darkened edges."),
        func=looks.watercolor,
        style_params=(
            _SIGMA_S,
            Param(
                "sigma_r",
                "float",
                0.45,
                0.0,
                1.0,
                0.01,
                gettext_noop("Colour blending"),
                gettext_noop(
                    "How much different colours blend together; higher is smoother."
                ),
            ),
        ),
        version="1.1",
    ),
    "cartoon": Style(
        slug="cartoon",
        label=gettext_noop("Cartoon"),
        description=gettext_noop(
            "Smooth flat shading with soft tone steps and clean dark outlines."
        ),
        func=looks.cartoon,
        style_params=(
            Param(
                "sigma_s",
                "float",
                40.0,
                0.0,
                200.0,
                1.0,
                gettext_noop("Smoothing size"),
                gettext_noop(
                    "Spatial extent of the edge-preserving smoothing, in pixels."
                ),
                unit="px",
            ),
            Param(
                "sigma_r",
                "float",
                0.3,
                0.0,
                1.0,
                0.01,
                gettext_noop("Colour blending"),
                gettext_noop("How much different colours blend before flattening."),
            ),
            Param(
                "levels",
                "int",
                8,
                2,
                16,
                1,
                gettext_noop("Tone levels"),
                gettext_noop("Number of lightness tones; fewer is flatter."),
            ),
            Param(
                "line_width",
                "int",
                2,
                0,
                10,
                1,
                gettext_noop("Outline width"),
                gettext_noop(
                    "Thickness of the dark outlines in pixels (0 turns them off)."
                ),
                unit="px",
            ),
            Param(
                "edge_threshold",
                "float",
                0.1,
                0.01,
                1.0,
                0.01,
                gettext_noop("Outline sensitivity"),
                gettext_noop(
                    "Edge contrast needed for an outline; lower draws more lines."
                ),
            ),
        ),
        version="2.0",
    ),
    "impressionist": Style(
        slug="impressionist",
        label=gettext_noop("Impressionist"),
        description=gettext_noop(
            "Curved brush strokes of several sizes, large ones first, following the shapes of the photo."
        ),
        func=brushwork.impressionist,
        style_params=(
            Param(
                "brush_size",
                "int",
                24,
                4,
                96,
                1,
                gettext_noop("Largest brush"),
                gettext_noop(
                    "Radius of the biggest brush in pixels; each further layer halves it."
                ),
                unit="px",
            ),
            Param(
                "layers",
                "int",
                3,
                1,
                4,
                1,
                gettext_noop("Brush layers"),
                gettext_noop(
                    "How many brush sizes paint over each other, big to small."
                ),
            ),
            Param(
                "curvature",
                "float",
                0.75,
                0.0,
                1.0,
                0.05,
                gettext_noop("Stroke curvature"),
                gettext_noop(
                    "How closely strokes bend with the shapes (0 straight, 1 fully curved)."
                ),
            ),
            Param(
                "stroke_length",
                "int",
                10,
                1,
                16,
                1,
                gettext_noop("Stroke length"),
                gettext_noop("Longest stroke, in brush widths."),
            ),
            Param(
                "detail",
                "float",
                0.5,
                0.0,
                1.0,
                0.05,
                gettext_noop("Detail"),
                gettext_noop(
                    "How closely small brushes repaint details (0 loose, 1 precise)."
                ),
            ),
            _COLOR_JITTER,
            _CANVAS,
        ),
        version="1.0",
    ),
    "pointillism": Style(
        slug="pointillism",
        label=gettext_noop("Pointillism"),
        description=gettext_noop(
            "Seurat's dots of pure colour that mix in the eye, smaller where the photo has detail."
        ),
        func=brushwork.pointillism,
        style_params=(
            Param(
                "dot_size",
                "int",
                6,
                4,
                40,
                1,
                gettext_noop("Dot size"),
                gettext_noop("Radius of the largest dots in pixels (in flat areas)."),
                unit="px",
            ),
            Param(
                "detail",
                "float",
                0.6,
                0.0,
                1.0,
                0.05,
                gettext_noop("Detail"),
                gettext_noop("How much smaller dots get where the photo has detail."),
            ),
            Param(
                "density",
                "float",
                1.0,
                0.5,
                1.5,
                0.05,
                gettext_noop("Density"),
                gettext_noop("How closely dots are packed (0.5 airy, 1.5 crowded)."),
            ),
            Param(
                "color_jitter",
                "float",
                0.35,
                0.0,
                1.0,
                0.05,
                gettext_noop("Colour contrast"),
                gettext_noop("How many dots take neighbouring and complementary hues."),
            ),
        ),
        version="1.0",
    ),
    "ink_wash": Style(
        slug="ink_wash",
        label=gettext_noop("Ink wash (水墨)"),
        description=gettext_noop(
            "Chinese ink painting: soft ink washes, dry-brush outlines, rice paper."
        ),
        func=looks.ink_wash,
        style_params=(
            Param(
                "sigma_s",
                "float",
                40.0,
                0.0,
                200.0,
                1.0,
                gettext_noop("Wash size"),
                gettext_noop("Spatial extent of the soft ink washes, in pixels."),
                unit="px",
            ),
            Param(
                "line_width",
                "int",
                3,
                0,
                20,
                1,
                gettext_noop("Brush line width"),
                gettext_noop(
                    "Thickness of the dry-brush outlines in pixels (0 turns them off)."
                ),
                unit="px",
            ),
            Param(
                "ink",
                "float",
                0.6,
                0.0,
                1.0,
                0.05,
                gettext_noop("Ink density"),
                gettext_noop("How dark the ink washes are (0 pale, 1 deep black)."),
            ),
            Param(
                "dry_brush",
                "float",
                0.5,
                0.0,
                1.0,
                0.05,
                gettext_noop("Dry brush"),
                gettext_noop(
                    "How much the outlines break up like a dry brush on paper."
                ),
            ),
            Param(
                "color_wash",
                "float",
                0.1,
                0.0,
                1.0,
                0.05,
                gettext_noop("Colour wash"),
                gettext_noop(
                    "A light wash of the photo's colours over the ink (0 pure ink)."
                ),
            ),
            Param(
                "paper_texture",
                "float",
                0.4,
                0.0,
                1.0,
                0.05,
                gettext_noop("Paper texture"),
                gettext_noop("How much the fibres of the rice paper show."),
            ),
        ),
        version="1.0",
    ),
}


def _coerce_bool(param: Param, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_WORDS:
            return True
        if text in _FALSE_WORDS:
            return False
    raise ValueError(
        f"{param.name} must be true or false (true/false, 1/0, on/off), got {value!r}"
    )


_TRUE_WORDS = frozenset({"true", "1", "on"})
_FALSE_WORDS = frozenset({"false", "0", "off"})


def _coerce(param: Param, value: Any) -> int | float | bool:
    name = param.name
    if param.type == "bool":
        return _coerce_bool(param, value)
    if isinstance(value, bool | np.bool_) or value is None:
        raise ValueError(f"{name} must be a number")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number") from None
    elif isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range, e.g. 10**400
            raise ValueError(
                f"{name} must be between {param.min:g} and {param.max:g}"
            ) from None
    else:
        raise ValueError(f"{name} must be a number")
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number")
    if param.type == "int":
        if number != int(number):
            raise ValueError(f"{name} must be a whole number")
        result: int | float = int(number)
    else:
        result = number
    if not param.min <= result <= param.max:
        raise ValueError(f"{name} must be between {param.min:g} and {param.max:g}")
    return result


def _style_spec(style: str) -> Style:
    spec = STYLES.get(style) if isinstance(style, str) else None
    if spec is None:
        raise ValueError(f"Unknown style {style!r}; choose one of {', '.join(STYLES)}")
    return spec


def validate_params(style: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a parameter dict against a style's spec and fill in defaults.

    Args:
        style: a slug from :data:`STYLES`.
        params: ``{name: value}``; values may be numbers or numeric strings,
            and for ``"bool"`` parameters ``True``/``False``, ``1``/``0`` or
            the strings ``"true"``/``"false"``, ``"1"``/``"0"``,
            ``"on"``/``"off"`` (any case). ``None`` means all defaults.

    Returns:
        A new dict with every parameter of the style (its own and the
        generic ``strength`` and ``keep_colors``), ints as ``int``, floats as
        ``float`` and bools as ``bool``.

    Raises:
        ValueError: unknown style, unknown parameter, non-numeric, NaN/inf,
            non-integral value for an int parameter, out of range, or not a
            recognised boolean; the message names the parameter (e.g.
            "sigma_s must be between 0 and 200").
    """
    spec = _style_spec(style)
    given = dict(params or {})
    known = {p.name: p for p in spec.params}
    for name in given:
        if name not in known:
            raise ValueError(f"Unknown parameter {name!r} for style {style!r}")
    result: dict[str, Any] = {}
    for name, param in known.items():
        if name in given:
            result[name] = _coerce(param, given[name])
        else:
            result[name] = param.default
    return result


def style_version(style: str) -> str:
    """The version of ``style``'s pixels, to record in a recipe.

    Args:
        style: a slug from :data:`STYLES`.

    Returns:
        :attr:`Style.version`, e.g. ``"1.1"``; it changes only when that
        style's output for a given recipe changes.

    Raises:
        ValueError: unknown style.
    """
    return _style_spec(style).version


def canonical_params(style: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The validated parameters without generic ones left at their defaults.

    A recipe hashed on this dict hashes as it did before ``strength`` and
    ``keep_colors`` existed whenever they are at their defaults (1 and off),
    so results stored then stay reusable; any other value is kept.

    Args:
        style: a slug from :data:`STYLES`.
        params: as for :func:`validate_params`.

    Returns:
        A new dict: every style parameter, plus each generic parameter whose
        value differs from its default.

    Raises:
        ValueError: as :func:`validate_params`.
    """
    values = validate_params(style, params)
    for param in GENERIC_PARAMS:
        if values[param.name] == param.default:
            del values[param.name]
    return values


def scale_params(style: str, params: Mapping[str, Any] | None, scale: float) -> dict:
    """Parameters for rendering a resized copy of the image, e.g. a preview.

    Multiplies every ``unit == "px"`` parameter by ``scale`` (for a preview,
    ``preview_long_side / full_long_side``), so that a 512-px preview of a
    12 MP photo looks like the full-size result at a smaller scale instead
    of being painted with brushes 8x too large. Ints are rounded (half up);
    a positive int never rounds to 0 (0 usually means "off", as for an
    outline width); results are clamped to the parameter's ``[min, max]``.
    Never use it for the full-size render: that keeps the recipe's pixels.

    Args:
        style: a slug from :data:`STYLES`.
        params: as for :func:`validate_params`.
        scale: finite, > 0; 1 returns the validated parameters unchanged.

    Returns:
        A new full parameter dict that :func:`validate_params` accepts.

    Raises:
        ValueError: bad parameters (as :func:`validate_params`) or a scale
            that is not a positive finite number.
    """
    values = validate_params(style, params)
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.number):
        raise ValueError("scale must be a positive number")
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError("scale must be a positive number")
    for param in _style_spec(style).params:
        if param.unit != "px":
            continue
        value = values[param.name] * scale
        if param.type == "int":
            scaled = int(math.floor(value + 0.5))
            if values[param.name] > 0:
                scaled = max(scaled, 1)
            values[param.name] = int(min(param.max, max(param.min, scaled)))
        else:
            values[param.name] = float(min(param.max, max(param.min, value)))
    return values


def render(
    image: np.ndarray, style: str, *, consume: bool = False, **params: Any
) -> np.ndarray:
    """Render ``image`` in ``style``.

    The style function sees the style's own parameters; then, in this one
    place for every style, ``keep_colors`` puts the photo's chroma under the
    style's lightness (:func:`processing.looks.keep_photo_colors`) and
    ``strength`` blends the result with the photo
    (:func:`processing.looks.blend_with_photo`).

    Args:
        image: ``HxWx3`` uint8 BGR array (any strides); never modified,
            unless ``consume``.
        style: a slug from :data:`STYLES`.
        consume: the caller gives ``image`` up and reads it no more: a style
            may give its memory back as soon as it is done with it
            (:func:`processing.looks.release_input`; at 12 MP, the 36 MB
            photo is then not resident beside the style's canvas and
            buffers). Its contents are undefined afterwards (zeros where
            pages went). Ignored when ``keep_colors`` or a ``strength``
            below 1 read the photo again after the style.
        **params: style parameters, validated by :func:`validate_params`.

    Returns:
        A new C-contiguous ``HxWx3`` uint8 array of the same size. Identical
        inputs give identical outputs, in any process.

    Raises:
        ValueError: bad style/parameter (named in the message) or an image
            that is not a non-empty ``HxWx3`` uint8 array.
    """
    values = validate_params(style, params)
    if not isinstance(image, np.ndarray):
        raise ValueError("image must be a numpy array")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("image must be an HxWx3 uint8 array")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("image must have at least one pixel")
    spec = STYLES[style]
    strength = values["strength"]
    if strength == 0.0:
        return np.ascontiguousarray(image).copy()
    # A read-only view: the style functions cannot modify the caller's array.
    src = np.ascontiguousarray(image).view()
    src.flags.writeable = False
    own = {p.name: values[p.name] for p in spec.style_params}
    given_up = consume and not values["keep_colors"] and strength == 1.0
    with looks.input_given_up(src if given_up else None):
        out = np.ascontiguousarray(spec.func(src, **own), dtype=np.uint8)
    if values["keep_colors"]:
        out = looks.keep_photo_colors(src, out)
    if strength < 1.0:
        out = looks.blend_with_photo(src, out, strength)
    return out
