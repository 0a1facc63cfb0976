"""The style registry, parameter validation and :func:`render`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from processing import looks

__all__ = ["ENGINE_VERSION", "STYLES", "Param", "Style", "render", "validate_params"]

#: Bumped whenever the pixels produced for a given recipe change.
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
        type: ``"int"`` or ``"float"``.
        default, min, max, step: numbers of that type (min/max inclusive).
        label: short human label for forms and sliders.
        help: one sentence explaining the effect (the range is shown from
            ``min`` and ``max``, never written into the text).
    """

    name: str
    type: Literal["int", "float"]
    default: int | float
    min: int | float
    max: int | float
    step: int | float
    label: str
    help: str = ""

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


@dataclass(frozen=True)
class Style:
    """A rendering style: slug, texts, function and parameter spec."""

    slug: str
    label: str
    description: str
    func: Callable[..., np.ndarray]
    params: tuple[Param, ...]

    def defaults(self) -> dict[str, int | float]:
        """Return ``{name: default}`` for every parameter."""
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

STYLES: dict[str, Style] = {
    "pencil": Style(
        slug="pencil",
        label=gettext_noop("Pencil sketch"),
        description=gettext_noop(
            "Gray graphite drawing: strong edges become pencil strokes."
        ),
        func=looks.pencil,
        params=(_SIGMA_S, _SIGMA_R_PENCIL, _SHADE_PENCIL),
    ),
    "color_pencil": Style(
        slug="color_pencil",
        label=gettext_noop("Colour pencil"),
        description=gettext_noop("Pencil strokes tinted with the photo's own colours."),
        func=looks.color_pencil,
        params=(_SIGMA_S, _SIGMA_R_PENCIL, _SHADE),
    ),
    "oil": Style(
        slug="oil",
        label=gettext_noop("Oil painting"),
        description=gettext_noop(
            "Thick dabs of paint: each pixel takes the dominant colour around it."
        ),
        func=looks.oil,
        params=(
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
    ),
    "watercolor": Style(
        slug="watercolor",
        label=gettext_noop("Watercolour"),
        description=gettext_noop("Soft washes of colour with darkened edges."),
        func=looks.watercolor,
        params=(
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
    ),
    "cartoon": Style(
        slug="cartoon",
        label=gettext_noop("Cartoon"),
        description=gettext_noop("Flat areas of colour with bold dark outlines."),
        func=looks.cartoon,
        params=(
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
                gettext_noop("Colour levels"),
                gettext_noop("Number of tones per colour channel; fewer is flatter."),
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
                    "Edge strength needed for an outline; lower draws more lines."
                ),
            ),
        ),
    ),
}


def _coerce(param: Param, value: Any) -> int | float:
    name = param.name
    if isinstance(value, bool) or value is None:
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


def validate_params(style: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a parameter dict against a style's spec and fill in defaults.

    Args:
        style: a slug from :data:`STYLES`.
        params: ``{name: value}``; values may be numbers or numeric strings.
            ``None`` means all defaults.

    Returns:
        A new dict with every parameter of the style, ints as ``int`` and
        floats as ``float``.

    Raises:
        ValueError: unknown style, unknown parameter, non-numeric, NaN/inf,
            non-integral value for an int parameter, or out of range; the
            message names the parameter (e.g. "sigma_s must be between 0 and
            200").
    """
    spec = STYLES.get(style) if isinstance(style, str) else None
    if spec is None:
        raise ValueError(f"Unknown style {style!r}; choose one of {', '.join(STYLES)}")
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


def render(image: np.ndarray, style: str, **params: Any) -> np.ndarray:
    """Render ``image`` in ``style``.

    Args:
        image: ``HxWx3`` uint8 BGR array (any strides); never modified.
        style: a slug from :data:`STYLES`.
        **params: style parameters, validated by :func:`validate_params`.

    Returns:
        A new C-contiguous ``HxWx3`` uint8 array of the same size. Identical
        inputs give identical outputs.

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
    # A read-only view: the style functions cannot modify the caller's array.
    src = np.ascontiguousarray(image).view()
    src.flags.writeable = False
    out = STYLES[style].func(src, **values)
    return np.ascontiguousarray(out, dtype=np.uint8)
