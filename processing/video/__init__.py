"""Moving pictures: videos (MP4, MOV, WebM) and animated GIF/WebP.

:func:`probe` checks a file's header against the limits before anything is
decoded; :func:`render_moving` styles it frame by frame into an MP4 (and an
animated WebP for animations) with the source's audio; :func:`is_moving`
tells a moving picture from a photo by its first bytes. FFmpeg (demuxers,
decoders, libx264) comes from PyAV's binary wheel.

PyAV is imported on first use (:func:`render_moving`, or :func:`probe` of a
video container), not with the package: its libraries add ~25 MB to every
process, and most processes (web, a photo's job) never need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from processing.video.probe import InvalidVideo, MediaInfo, is_moving, probe

if TYPE_CHECKING:
    from processing.video.render import MovingResult, render_moving

#: Names served from :mod:`processing.video.render` on first access.
LAZY = frozenset({"MovingResult", "render_moving"})


def __getattr__(name: str) -> Any:
    if name in LAZY:
        from processing.video import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "InvalidVideo",
    "MediaInfo",
    "MovingResult",
    "is_moving",
    "probe",
    "render_moving",
]
