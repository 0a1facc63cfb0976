"""Pure image processing for the art studio: decode, render styles, encode.

No Django here: this package imports numpy, OpenCV, Pillow and pillow-heif
only, so that it can run in workers, the CLI and tests alike.
"""

from __future__ import annotations

from processing.codec import (
    ImageInfo,
    InvalidImage,
    decode,
    encode,
    inspect,
    make_thumbnail,
)
from processing.styles import (
    ENGINE_VERSION,
    STYLES,
    Param,
    Style,
    render,
    validate_params,
)

__all__ = [
    "ENGINE_VERSION",
    "STYLES",
    "ImageInfo",
    "InvalidImage",
    "Param",
    "Style",
    "decode",
    "encode",
    "inspect",
    "make_thumbnail",
    "render",
    "validate_params",
]
