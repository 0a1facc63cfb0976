"""Short clips and animations made in memory for the gallery's video tests
(the engine's own synthetic scene: a still background, one moving disc, a
440 Hz tone), and the uploads that carry them."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from processing.video.samples import write_animation, write_clip

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "gif": "image/gif",
    "webp": "image/webp",
}


def clip_bytes(
    *,
    seconds: float = 1.0,
    fps: int = 10,
    width: int = 96,
    height: int = 64,
    audio: bool = True,
    container: str = "mp4",
) -> bytes:
    buffer = io.BytesIO()
    write_clip(
        buffer,
        width=width,
        height=height,
        fps=fps,
        seconds=seconds,
        audio=audio,
        container=container,
    )
    return buffer.getvalue()


def animation_bytes(*, fmt: str = "gif", frames: int = 6, width: int = 64) -> bytes:
    buffer = io.BytesIO()
    write_animation(buffer, fmt=fmt, width=width, height=width * 3 // 4, frames=frames)
    return buffer.getvalue()


def clip_upload(
    data: bytes | None = None, name: str = "clip.mp4"
) -> SimpleUploadedFile:
    suffix = name.rsplit(".", 1)[-1]
    return SimpleUploadedFile(
        name, data if data is not None else clip_bytes(), CONTENT_TYPES[suffix]
    )
