"""Synthetic clips for tests, benchmarks and demos (no downloads).

:func:`write_clip` writes a short video of a still, textured background with
one moving disc, optionally with a sine tone as its audio: the scene the
flicker measure (:func:`processing.video.flicker_ratio`) is defined on.
:func:`write_animation` writes the same scene as an animated GIF or WebP.
"""

from __future__ import annotations

import functools
import math
import os
from fractions import Fraction
from typing import BinaryIO

import av
import cv2
import numpy as np
from PIL import Image

__all__ = ["moving_disc", "scene_frame", "still_mask", "write_animation", "write_clip"]


@functools.lru_cache(maxsize=2)
def _background(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 60 + 140 * y
    img[..., 1] = 110 + 70 * np.sin(5 * x + 2 * y)
    img[..., 2] = 70 + 120 * x * (1 - y)
    scale = max(height, width)
    for _ in range(10):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        radius = int(rng.integers(scale // 25 + 1, scale // 8 + 2))
        color = tuple(float(c) for c in rng.integers(20, 236, 3))
        cv2.rectangle(img, (cx, cy), (cx + radius, cy + radius // 2 + 1), color, -1)
    img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def moving_disc(
    index: int, frames: int, height: int, width: int
) -> tuple[int, int, int]:
    """Centre x, y and radius of the moving disc in frame ``index``.

    It travels left to right across the middle fifth of the height.
    """
    radius = max(3, min(height, width) // 10)
    t = index / max(1, frames - 1)
    x = int(round(radius + t * (width - 2 * radius)))
    return x, height // 2, radius


def still_mask(frames: int, height: int, width: int, margin: int) -> np.ndarray:
    """Pixels farther than ``margin`` px from every position of the disc (bool)."""
    radius = moving_disc(0, frames, height, width)[2]
    band = np.ones((height, width), bool)
    top = max(0, height // 2 - radius - margin)
    band[top : height // 2 + radius + margin + 1, :] = False
    return band


def scene_frame(
    index: int,
    frames: int,
    height: int,
    width: int,
    *,
    noise: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """Frame ``index`` (BGR uint8): the still background, the disc, and
    sensor-like noise of ``noise`` grey levels that changes every frame."""
    img = _background(height, width, seed).copy()
    x, y, r = moving_disc(index, frames, height, width)
    cv2.circle(img, (x, y), r, (250, 250, 250), -1, cv2.LINE_AA)
    cv2.circle(img, (x, y), r // 2, (30, 40, 200), -1, cv2.LINE_AA)
    if noise > 0:
        rng = np.random.default_rng(seed * 100_003 + index + 1)
        grain = rng.normal(0.0, noise, img.shape).astype(np.float32)
        img = np.clip(img + grain, 0, 255).astype(np.uint8)
    return img


def write_clip(
    out: str | os.PathLike | BinaryIO,
    *,
    width: int = 160,
    height: int = 120,
    fps: int | Fraction = 25,
    seconds: float = 1.0,
    audio: bool = True,
    noise: float = 2.0,
    container: str = "mp4",
    audio_codec: str = "aac",
    crf: int = 18,
    rotation: int = 0,
) -> int:
    """Write the moving-disc scene as a video; return its frame count.

    Args:
        out: path or writable binary file.
        width, height: even frame size for H.264 (any size for VP9).
        fps: frame rate; seconds: length.
        audio: add a 440 Hz sine tone (mono, 44.1 kHz) of the same length.
        noise: per-frame sensor noise, grey levels.
        container: ``"mp4"``, ``"mov"`` (H.264) or ``"webm"`` (VP9 + Opus).
        audio_codec: the audio encoder (``"aac"``, ``"libopus"``, ...).
        crf: quality of the H.264/VP9 encode.
        rotation: display rotation, degrees counterclockwise (a phone
            filming upright stores landscape frames and 90 or -90).
    """
    frames = int(round(float(fps) * seconds))
    fmt = {"mp4": "mp4", "mov": "mov", "webm": "webm"}[container]
    codec = "libvpx-vp9" if fmt == "webm" else "libx264"
    sample_rate = 48000 if audio_codec == "libopus" or fmt == "webm" else 44100
    with av.open(out, "w", format=fmt) as output:
        video = output.add_stream(codec, rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        video.options = {"crf": str(crf)} | (
            {"preset": "veryfast"}
            if codec == "libx264"
            else {"b": "0", "deadline": "realtime", "cpu-used": "8"}
        )
        sound = None
        if audio:
            sound = output.add_stream(
                "libopus" if fmt == "webm" else audio_codec, rate=sample_rate
            )
            sound.layout = "mono"
        for index in range(frames):
            image = scene_frame(index, frames, height, width, noise=noise)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        if sound is not None:
            total = int(round(sample_rate * seconds))
            t = np.arange(total) / sample_rate
            tone = (0.3 * np.sin(2 * math.pi * 440.0 * t)).astype(np.float32)
            step = sound.codec_context.frame_size or 1024
            for start in range(0, total, step):
                chunk = np.ascontiguousarray(tone[None, start : start + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = sample_rate, start
                output.mux(sound.encode(frame))
            output.mux(sound.encode(None))
    return frames


def write_animation(
    out: str | os.PathLike | BinaryIO,
    *,
    fmt: str = "gif",
    width: int = 80,
    height: int = 60,
    frames: int = 10,
    duration_ms: int | list[int] = 100,
    noise: float = 0.0,
) -> None:
    """Write the moving-disc scene as an animated GIF or WebP (Pillow)."""
    images = [
        Image.fromarray(scene_frame(i, frames, height, width, noise=noise)[..., ::-1])
        for i in range(frames)
    ]
    options = {"lossless": True} if fmt == "webp" else {}
    images[0].save(
        out, format=fmt.upper(), save_all=True, append_images=images[1:],
        duration=duration_ms, loop=0, **options,
    )  # fmt: skip
