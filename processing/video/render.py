"""Styling a moving picture frame by frame: decode, render, encode, streamed.

:func:`render_moving` decodes one frame at a time (FFmpeg through PyAV for
videos, Pillow for GIF/WebP), renders it with :func:`processing.render`
(the same styles and parameter validation as photos), holds still parts of
the picture still (:class:`processing.video.temporal.Stabilizer`) and hands
it to the MP4 encoder thread (:class:`processing.video.writer.Mp4Writer`);
memory does not depend on the clip's length. The file is held to what its
header claimed (:func:`processing.video.probe`): a frame beyond the
declared count, duration or size raises :class:`InvalidVideo` saying so.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import cv2
import numpy as np

from processing.styles import render, validate_params
from processing.video.animation import WebpWriter, animation_frames
from processing.video.probe import (
    InvalidVideo,
    MediaInfo,
    Source,
    check_limits,
    open_container,
    open_source,
    probe,
)
from processing.video.temporal import Stabilizer
from processing.video.writer import Mp4Writer

__all__ = ["MovingResult", "render_moving"]

_DAMAGED = "The video file is truncated or damaged."
_MS = Fraction(1, 1000)
_COVER = int(av.stream.Disposition.attached_pic)


@dataclass(frozen=True)
class MovingResult:
    """What :func:`render_moving` wrote.

    Attributes:
        frames: frames encoded.
        duration: seconds from the first frame's start to the last's end.
        width, height: the MP4's frame size (the source's, made even).
        thumbnail: a styled frame (about a third into the clip), BGR uint8
            at the MP4's size, turned upright when the source has a display
            rotation (a phone held upright): the MP4 keeps the stored
            frames and the rotation, as the source did.
        fps: the source's average frame rate.
        audio: ``"copied"``, ``"transcoded"`` (to AAC) or ``"none"``.
        webp: an animated WebP was written to ``out_webp``.
    """

    frames: int
    duration: float
    width: int
    height: int
    thumbnail: np.ndarray
    fps: float
    audio: str = "none"
    webp: bool = False


class _Budget:
    """The header's claims, checked against each decoded frame."""

    def __init__(self, info: MediaInfo) -> None:
        self.info = info
        slack = max(2, info.frames // 50)
        if not info.frames_exact:  # an estimate from duration * fps
            slack = max(slack, math.ceil(info.fps))
        self.max_frames = info.frames + slack
        self.max_time = info.duration + max(0.5, 0.02 * info.duration)

    def check(self, index: int, seconds: float, width: int, height: int) -> None:
        info = self.info
        if width * height > info.width * info.height:
            raise InvalidVideo(
                f"The file says its frames are {info.width}x{info.height} but one "
                f"is {width}x{height}."
            )
        if index >= self.max_frames:
            raise InvalidVideo(
                f"The file says it has {info.frames} frames but it has more."
            )
        if seconds > self.max_time:
            raise InvalidVideo(
                f"The file says it lasts {info.duration:.1f} s but it has "
                f"frames at {seconds:.1f} s."
            )

    def check_end(self, frames: int, end: float) -> None:
        info = self.info
        if frames == 0:
            raise InvalidVideo("The video has no frames that can be decoded.")
        if end < 0.9 * info.duration - 0.5:
            raise InvalidVideo(
                f"The file says it lasts {info.duration:.1f} s but its frames "
                f"end at {end:.1f} s: it is truncated or damaged."
            )


def _video_stream(container: av.container.InputContainer) -> av.video.VideoStream:
    return next(s for s in container.streams.video if not s.disposition & _COVER)


def _start(container: av.container.InputContainer) -> Fraction:
    """When the earlier of the video and audio streams starts, seconds: both
    are shifted by it, so the result starts at 0 and keeps them in sync."""
    starts = [
        s.start_time * s.time_base
        for s in (_video_stream(container), *container.streams.audio[:1])
        if s.start_time is not None and s.time_base
    ]
    return min(starts, default=Fraction(0))


def _video_frames(
    container: av.container.InputContainer,
    on_audio: Callable[[av.Packet], None],
) -> Iterator[tuple[av.VideoFrame, int]]:
    """Yield decoded video frames with their pts counted from :func:`_start`;
    audio packets go to ``on_audio`` in the order they are stored."""
    video = _video_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    video.thread_type = "AUTO"
    start = round(_start(container) / video.time_base)
    last = None
    for packet in container.demux([video] + ([audio] if audio is not None else [])):
        if packet.stream is audio:
            if packet.size:
                on_audio(packet)
            continue
        for frame in packet.decode():
            pts = (
                frame.pts if frame.pts is not None else start + (last or 0) + 1
            ) - start
            if last is not None and pts <= last:
                pts = last + 1  # x264 needs strictly increasing timestamps
            last = pts
            yield frame, pts


def _even(n: int) -> int:
    return max(2, n - (n & 1))


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (w, h) != (width, height) and (w < width or h < height):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image[:height, :width]


def _target(out: str | os.PathLike | BinaryIO) -> Path:
    """A temporary file next to ``out`` (or in the temp dir for a file
    object): FFmpeg's +faststart rewrites the file it wrote, and the result
    appears at ``out`` only once complete."""
    if isinstance(out, str | os.PathLike):
        folder = Path(out).resolve().parent
        fd, name = tempfile.mkstemp(suffix=".mp4", prefix=".part-", dir=folder)
    else:
        fd, name = tempfile.mkstemp(suffix=".mp4", prefix="studio-")
    os.close(fd)
    return Path(name)


def _deliver(part: Path, out: str | os.PathLike | BinaryIO) -> None:
    if isinstance(out, str | os.PathLike):
        part.chmod(0o644)  # mkstemp's 0600 is for the partial file only
        os.replace(part, out)
    else:
        with open(part, "rb") as fh:
            shutil.copyfileobj(fh, out)
        part.unlink()


def render_moving(
    source: Source,
    style: str,
    params: dict[str, Any] | None,
    out_mp4: str | os.PathLike | BinaryIO,
    *,
    out_webp: str | os.PathLike | BinaryIO | None = None,
    info: MediaInfo | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_seconds: float = 30,
    max_pixels: int = 1920 * 1080,
    crf: int = 21,
    preset: str = "veryfast",
    stabilize: bool = True,
) -> MovingResult:
    """Render a video or animated GIF/WebP in ``style``, frame by frame.

    Args:
        source: a path, bytes or a seekable binary file (MP4, MOV, WebM,
            animated GIF or WebP).
        style, params: as for :func:`processing.render` (validated the
            same way: a bad one raises ``ValueError`` before anything is
            read or written).
        out_mp4: path or writable binary file for the MP4 (H.264,
            yuv420p, even size - an odd width or height loses its last
            column or row - the source's timestamps, +faststart, the
            source's audio).
        out_webp: for an animation, also write an animated WebP here
            (lossy, long side at most 480 px, frame durations kept);
            ignored for videos.
        info: the :func:`probe` result when the caller already has it
            (it is checked against the limits again).
        progress: called as ``progress(frames_done, frames_total)`` after
            each frame (``frames_total`` is the header's count).
        max_seconds, max_pixels: the limits of :func:`probe`.
        crf, preset: libx264 quality (18..28 sensible) and speed.
        stabilize: hold unchanged parts of the picture still (frame
            differencing, :class:`processing.video.temporal.Stabilizer`);
            off renders every frame independently.

    Returns:
        A :class:`MovingResult`.

    Raises:
        ValueError: unknown style or bad parameter.
        InvalidVideo: anything :func:`probe` refuses, a file whose frames
            exceed its header's claims, or a decoding error. Nothing is
            left at ``out_mp4``/``out_webp`` (paths) or written to them
            (file objects) when it raises.
    """
    values = validate_params(style, params)
    with open_source(source) as stream:
        if info is None:
            info = probe(stream, max_seconds=max_seconds, max_pixels=max_pixels)
        check_limits(info, max_seconds=max_seconds, max_pixels=max_pixels)
        part = _target(out_mp4)
        try:
            if info.media == "animation":
                result = _render_animation(
                    stream, info, style, values, part, out_webp, progress,
                    crf=crf, preset=preset, stabilize=stabilize,
                )  # fmt: skip
            else:
                result = _render_video(
                    stream, info, style, values, part, progress,
                    crf=crf, preset=preset, stabilize=stabilize,
                )  # fmt: skip
            _deliver(part, out_mp4)
        finally:
            part.unlink(missing_ok=True)
    return result


class _Frames:
    """The shared per-frame work: check, fit, render, stabilise, count."""

    def __init__(self, info, style, values, progress, stabilize) -> None:
        self.budget = _Budget(info)
        self.width, self.height = _even(info.width), _even(info.height)
        self.style, self.values = style, values
        self.progress = progress
        self.total = info.frames
        self.stabilizer = Stabilizer(style, values) if stabilize else None
        self.count = 0
        self.thumb_at = max(0, info.frames // 3)
        self.thumbnail: np.ndarray | None = None

    def render(self, image: np.ndarray, seconds: float) -> np.ndarray:
        h, w = image.shape[:2]
        self.budget.check(self.count, seconds, w, h)
        image = np.ascontiguousarray(_fit(image, self.width, self.height))
        if self.stabilizer is not None:
            out = self.stabilizer.render(image)
        else:
            out = render(image, self.style, **self.values)
        if self.count <= self.thumb_at:
            self.thumbnail = out
        self.count += 1
        if self.progress is not None:
            self.progress(self.count, max(self.total, self.count))
        return out


def _render_video(stream, info, style, values, part, progress, **options):
    frames = _Frames(info, style, values, progress, options.pop("stabilize"))
    container = open_container(stream, info.format)
    writer: Mp4Writer | None = None
    pending: list[av.Packet] = []  # audio stored before the first frame
    end = 0.0
    try:
        video = _video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        tb = video.time_base
        offset = 0  # the common start, in the audio's time base
        if audio is not None:
            offset = round(_start(container) / audio.time_base)

        def on_audio(packet: av.Packet) -> None:
            if writer is None:
                pending.append(packet)
            else:
                writer.audio_packet(packet, offset)

        rate = Fraction(video.average_rate or info.fps).limit_denominator(1001)
        first = None
        for frame, pts in _video_frames(container, on_audio):
            first = pts if first is None else first
            # the header's duration is the video stream's own: count from
            # its first frame, not from an earlier audio start
            seconds = float((pts - first) * tb)
            out = frames.render(frame.to_ndarray(format="bgr24"), seconds)
            if writer is None:
                writer = Mp4Writer(
                    part, width=frames.width, height=frames.height, rate=rate,
                    time_base=tb, audio=audio, rotation=frame.rotation or 0.0,
                    **options,
                )  # fmt: skip
                for packet in pending:
                    writer.audio_packet(packet, offset)
                pending.clear()
            writer.frame(out, pts)
            end = seconds + 1.0 / info.fps
        frames.budget.check_end(frames.count, end)
        writer.close()
        turns = round(writer.rotation / 90) % 4
    except av.FFmpegError:
        raise InvalidVideo(_DAMAGED) from None
    finally:
        if writer is not None:
            writer.abort()
        container.close()
    return MovingResult(
        frames=frames.count, duration=end, width=frames.width, height=frames.height,
        thumbnail=np.ascontiguousarray(np.rot90(frames.thumbnail, turns)),
        fps=info.fps, audio=writer.audio_mode,
    )  # fmt: skip


def _render_animation(stream, info, style, values, part, out_webp, progress, **options):
    frames = _Frames(info, style, values, progress, options.pop("stabilize"))
    rate = Fraction(info.fps).limit_denominator(1001)
    writer = Mp4Writer(
        part, width=frames.width, height=frames.height, rate=rate, time_base=_MS,
        **options,
    )  # fmt: skip
    webp = WebpWriter(out_webp, frames.width, frames.height) if out_webp else None
    end_ms = 0
    last = -1
    try:
        for image, start_ms, delay in animation_frames(stream, info):
            out = frames.render(image, start_ms / 1000.0)
            pts = max(start_ms, last + 1)
            last = pts
            writer.frame(out, pts, delay)
            if webp is not None:
                webp.add(out, start_ms)
            end_ms = start_ms + delay
        frames.budget.check_end(frames.count, end_ms / 1000.0)
        writer.close()
        if webp is not None:
            webp.close(end_ms)
    finally:
        writer.abort()
    return MovingResult(
        frames=frames.count, duration=end_ms / 1000.0, width=frames.width,
        height=frames.height, thumbnail=frames.thumbnail, fps=info.fps,
        webp=webp is not None,
    )  # fmt: skip
