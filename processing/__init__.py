"""Pure image processing for the art studio: decode, render styles, encode.

Moving pictures (videos, animated GIF/WebP) are probed and rendered frame by
frame by :mod:`processing.video` (PyAV), exported here too.

No Django here: this package imports numpy, OpenCV, Pillow, pillow-heif
and PyAV (on the first video) only, so that it can run in workers, the CLI and tests alike. Numba (for the
style kernels) is imported on the first :func:`render` or :func:`warm_up`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    GENERIC_PARAMS,
    STYLES,
    Param,
    Style,
    canonical_params,
    render,
    scale_params,
    style_version,
    validate_params,
)
from processing.video import InvalidVideo, MediaInfo, is_moving, probe

if TYPE_CHECKING:
    from processing.video import MovingResult, render_moving


def __getattr__(name: str) -> Any:
    """``MovingResult`` and ``render_moving`` import PyAV on first access
    (see :mod:`processing.video`)."""
    from processing import video

    if name in video.LAZY:
        return getattr(video, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fill_kernel_cache(timeout: float = 900) -> bool:
    """Compile the style kernels into Numba's cache in a child process, when
    the cache lacks them (a first start, a new release, a fresh container).

    Call it before :func:`warm_up` in a process that stays up (the rq worker
    parent, gunicorn's master): its own warm-up then loads the kernels
    instead of compiling them, and keeps none of the compiler's memory
    (~240 MB of LLVM's heap, which every job process forked from it
    inherited: 12 MP job peaks of 464-547 MB instead of 226-262).
    Returns True when a child ran. A child that failed changes nothing:
    the warm-up that follows compiles in this process, as before.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    from processing import kernels

    if not kernels.cache_is_cold():
        return False
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    code = "import processing; processing.warm_up()"
    try:
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": path},
            check=False,
            timeout=timeout,
        )
    except (OSError, subprocess.SubprocessError):
        pass
    return True


def warm_up() -> None:
    """Import Numba and compile (or load from cache) every style kernel.

    Renders each style on a tiny image. Call it once in a process that forks
    workers (the rq worker parent) so that each forked job starts with the
    kernels ready instead of paying ~0.5 s (cache hit) to ~20 s (cold
    compile) per job. Safe to call more than once.
    """
    import numpy as np

    image = np.zeros((24, 32, 3), np.uint8)
    image[8:16, 10:20] = (40, 160, 220)
    image[:, 20:] += np.uint8(60)
    for slug in STYLES:
        render(image, slug, strength=0.5, keep_colors=True)
    # No smoothing at all: the one kernel the defaults never reach.
    render(image, "watercolor", sigma_s=0)


__all__ = [
    "ENGINE_VERSION",
    "GENERIC_PARAMS",
    "STYLES",
    "ImageInfo",
    "InvalidImage",
    "InvalidVideo",
    "MediaInfo",
    "MovingResult",
    "Param",
    "Style",
    "canonical_params",
    "decode",
    "encode",
    "fill_kernel_cache",
    "inspect",
    "is_moving",
    "make_thumbnail",
    "probe",
    "render",
    "render_moving",
    "scale_params",
    "style_version",
    "validate_params",
    "warm_up",
]
