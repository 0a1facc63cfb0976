"""Checking a moving picture from its header, before any frame is decoded.

:func:`probe` reads what a video container (MP4, MOV, WebM, through
FFmpeg's demuxers in PyAV) or an animated GIF/WebP (its block structure,
:mod:`processing.video.headers`) claims: size, frame rate, frame count,
duration, streams, and refuses anything outside the limits with
:class:`InvalidVideo`, whose message is written for the person who
uploaded the file. :func:`processing.video.render_moving` later holds the
file to those claims frame by frame.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, BinaryIO, Literal

from processing.codec import InvalidImage
from processing.formats import moving_labels
from processing.video.headers import animation_header, sniff

if TYPE_CHECKING:  # PyAV is imported where a container is opened (see open_container)
    import av

__all__ = [
    "MAX_FPS",
    "MIN_FPS",
    "InvalidVideo",
    "MediaInfo",
    "Source",
    "check_limits",
    "open_container",
    "is_moving",
    "open_source",
    "probe",
]

#: Frame rates outside this range are refused (a header claiming 1000 fps
#: or 0.01 fps is broken or hostile; no camera films that).
MAX_FPS = 120.0
MIN_FPS = 1.0
#: At most this many streams of any kind (subtitles, data, timecode tracks
#: are ignored, not copied, but a file with dozens of them is refused).
_MAX_STREAMS = 8
#: Audio codecs copied into the MP4 packet for packet; others are transcoded
#: to AAC.
MP4_AUDIO = frozenset({"aac", "mp3", "opus", "alac", "ac3", "eac3"})

#: What :func:`probe` and :func:`render_moving` read from.
Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO

_DAMAGED = "The video file is damaged or not a video we can read."


class InvalidVideo(InvalidImage):
    """The uploaded moving picture cannot be processed; ``str(exc)`` is for users.

    A subclass of :class:`processing.InvalidImage`, so code that turns an
    invalid upload into a clear error handles both.
    """


@dataclass(frozen=True)
class MediaInfo:
    """What a moving picture's header claims (checked against the limits).

    Attributes:
        media: ``"video"`` (MP4, MOV, WebM) or ``"animation"`` (GIF, WebP).
        width, height: frame size in pixels (as stored; no rotation).
        fps: average frame rate (frames / duration for animations).
        frames: frame count (from the header, or ``round(duration * fps)``
            when the container does not store it).
        duration: seconds.
        has_audio: a (single) audio stream is present.
        format: ``"mp4"``, ``"mov"``, ``"webm"``, ``"gif"`` or ``"webp"``.
        audio_codec: FFmpeg's name of the audio codec, or ``""``.
        frames_exact: ``frames`` was stored in the file, not estimated.
    """

    media: Literal["video", "animation"]
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    has_audio: bool
    format: str
    audio_codec: str = ""
    frames_exact: bool = True


class open_source:  # noqa: N801 - used like open()
    """Context manager giving a seekable binary stream for any :data:`Source`.

    Paths are opened (and closed again); bytes are wrapped; a file object is
    used as is and rewound to where it was on exit.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.stream: BinaryIO | None = None
        self.start = 0
        self.owned = False

    def __enter__(self) -> BinaryIO:
        src = self.source
        if isinstance(src, bytes | bytearray | memoryview):
            self.stream = io.BytesIO(bytes(src))
            self.owned = True
        elif isinstance(src, str | os.PathLike):
            self.stream = open(src, "rb")  # noqa: SIM115 - closed in __exit__
            self.owned = True
        elif hasattr(src, "read") and hasattr(src, "seek"):
            self.stream = src
            self.start = src.tell()
        else:
            raise TypeError("source must be a path, bytes or a seekable binary file")
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.stream.close()
        else:
            self.stream.seek(self.start)


def _size_of(stream: BinaryIO) -> int:
    here = stream.tell()
    stream.seek(0, 2)
    size = stream.tell() - here
    stream.seek(here)
    return size


def _head_kind(stream: BinaryIO) -> str | None:
    here = stream.tell()
    head = stream.read(64)
    stream.seek(here)
    return sniff(head)


def is_moving(source: Source) -> bool:
    """Whether a file holds moving pictures, from its first bytes only.

    True for MP4, MOV and WebM containers and for GIF and WebP files with
    more than one frame (their block structure is walked up to the second
    frame; no pixel is decoded). False for anything else, including still
    GIF/WebP, HEIC/AVIF photos and unknown bytes. A file object is rewound
    to where it was.
    """
    with open_source(source) as stream:
        kind = _head_kind(stream)
        if kind in ("gif", "webp"):
            try:
                header = animation_header(stream, kind, stop_after=2)
            except (EOFError, ValueError, OSError):
                return False
            return header.frames > 1
        return kind is not None


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels:,} pixels"


def check_limits(info: MediaInfo, *, max_seconds: float, max_pixels: int) -> MediaInfo:
    """Refuse a header's claims outside the limits (shared by every format)."""
    if info.width < 1 or info.height < 1:
        raise InvalidVideo("The video's frames have no size: the file is damaged.")
    if info.width * info.height > max_pixels:
        raise InvalidVideo(
            f"The video's frames are too large ({info.width}x{info.height}, "
            f"{_megapixels(info.width * info.height)}); at most "
            f"{_megapixels(max_pixels)} per frame is accepted."
        )
    if info.frames < 1 or info.duration <= 0:
        raise InvalidVideo("The video has no frames (its video stream is empty).")
    if not MIN_FPS <= info.fps <= MAX_FPS:
        raise InvalidVideo(
            f"The video's frame rate ({info.fps:g} fps) is not plausible; "
            f"{MIN_FPS:g} to {MAX_FPS:g} frames per second are accepted."
        )
    if info.duration > max_seconds:
        raise InvalidVideo(
            f"The video is too long ({info.duration:.1f} s); at most "
            f"{max_seconds:g} s is accepted."
        )
    return info


def _probe_animation(stream: BinaryIO, kind: str) -> MediaInfo:
    try:
        header = animation_header(stream, kind)
    except (EOFError, ValueError, OSError):
        raise InvalidVideo("The animation file is truncated or damaged.") from None
    if header.frames < 2:
        raise InvalidVideo("This image is not animated (it has a single frame).")
    fps = header.frames / header.duration if header.duration > 0 else 0.0
    return MediaInfo(
        media="animation",
        width=header.width,
        height=header.height,
        fps=fps,
        frames=header.frames,
        duration=header.duration,
        has_audio=False,
        format=kind,
    )


def _rate(stream: av.video.stream.VideoStream) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and rate > 0:
            return Fraction(rate)
    return None


def _probe_container(container: av.container.InputContainer, kind: str) -> MediaInfo:
    streams = container.streams
    if len(streams) > _MAX_STREAMS:
        raise InvalidVideo(
            f"The video has too many streams ({len(streams)}); at most one "
            "video and one audio stream are used."
        )
    import av

    attached_pic = int(av.stream.Disposition.attached_pic)
    videos = [s for s in streams.video if not s.disposition & attached_pic]
    audios = list(streams.audio)
    if not videos:
        raise InvalidVideo("This file has no video stream (is it an audio file?).")
    if len(videos) > 1 or len(audios) > 1:
        raise InvalidVideo(
            f"The video has {len(videos)} video and {len(audios)} audio streams; "
            "at most one of each is accepted."
        )
    video = videos[0]
    ctx = video.codec_context
    if ctx is None or not ctx.name:
        raise InvalidVideo("The video's codec is not supported.")
    rate = _rate(video)
    fps = float(rate) if rate else 0.0
    duration = 0.0
    if video.duration and video.time_base:
        duration = float(video.duration * video.time_base)
    if duration <= 0 and container.duration:
        duration = container.duration / av.time_base
    if video.frames == 0 and kind != "webm":
        # MP4 and MOV always store their sample count: none means empty
        raise InvalidVideo("The video has no frames (its video stream is empty).")
    if duration <= 0 and video.frames == 0:
        raise InvalidVideo(
            "The video does not say how long it is (a recording that was not "
            "finished?); save it again as MP4 and upload that."
        )
    frames = int(video.frames)
    exact = frames > 0
    if not exact:
        frames = round(duration * fps)
    elif duration <= 0 and fps > 0:
        duration = frames / fps
    return MediaInfo(
        media="video",
        width=int(ctx.width or 0),
        height=int(ctx.height or 0),
        fps=fps,
        frames=frames,
        duration=duration,
        has_audio=bool(audios),
        format=kind,
        audio_codec=audios[0].codec_context.name if audios else "",
        frames_exact=exact,
    )


def open_container(stream: BinaryIO, kind: str) -> av.container.InputContainer:
    """Open a video with FFmpeg's demuxer for the sniffed kind only.

    PyAV is imported here, on the first video, not with the package: its
    FFmpeg libraries add ~25 MB to every process that imports it, and the
    workers' job processes and the web processes mostly handle photos.
    """
    import av

    demuxer = "matroska" if kind == "webm" else "mov"
    try:
        return av.open(stream, "r", format=demuxer, options={"probesize": "5000000"})
    except (av.FFmpegError, ValueError, OSError, EOFError):
        raise InvalidVideo(_DAMAGED) from None


def probe(
    source: Source,
    *,
    max_seconds: float = 30,
    max_pixels: int = 1920 * 1080,
    max_bytes: int | None = None,
) -> MediaInfo:
    """Read and check a moving picture's header; no frame is decoded.

    Args:
        source: a path, bytes, or a seekable binary file (rewound after).
        max_seconds: longest accepted duration, seconds.
        max_pixels: most pixels per frame.
        max_bytes: largest accepted file, or None.

    Returns:
        The :class:`MediaInfo` the header claims.

    Raises:
        InvalidVideo: not a supported moving picture (MP4, MOV, WebM,
            animated GIF/WebP), a malformed container, no video stream,
            more than one video or audio stream (subtitle, data and timecode
            streams are ignored: they are not copied to the result), more
            than 8 streams, an empty video stream, a duration the header
            does not state, a frame rate outside 1..120 fps, or a file,
            duration or frame size over the limits.
    """
    with open_source(source) as stream:
        size = _size_of(stream)
        if size == 0:
            raise InvalidVideo("The file is empty.")
        if max_bytes is not None and size > max_bytes:
            raise InvalidVideo(
                f"The file is too large ({size / 1e6:.1f} MB); at most "
                f"{max_bytes / 1e6:.1f} MB is accepted."
            )
        kind = _head_kind(stream)
        if kind is None:
            raise InvalidVideo(
                f"This file is not a supported video ({moving_labels()})."
            )
        if kind in ("gif", "webp"):
            info = _probe_animation(stream, kind)
        else:
            container = open_container(stream, kind)
            try:
                info = _probe_container(container, kind)
            finally:
                container.close()
    return check_limits(info, max_seconds=max_seconds, max_pixels=max_pixels)
