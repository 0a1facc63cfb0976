"""Moving pictures: videos (MP4, MOV, WebM) and animated GIF/WebP.

:func:`probe` checks a file's header against the limits before anything is
decoded; :func:`render_moving` styles it frame by frame into an MP4 (and an
animated WebP for animations) with the source's audio; :func:`is_moving`
tells a moving picture from a photo by its first bytes. FFmpeg (demuxers,
decoders, libx264) comes from PyAV's binary wheel.
"""

from __future__ import annotations

from processing.video.probe import InvalidVideo, MediaInfo, is_moving, probe
from processing.video.render import MovingResult, render_moving

__all__ = [
    "InvalidVideo",
    "MediaInfo",
    "MovingResult",
    "is_moving",
    "probe",
    "render_moving",
]
