"""What a moving picture's first bytes say, read without decoding a pixel.

Sniffs the container (MP4/MOV ``ftyp``, WebM's EBML header, GIF, WebP's
RIFF) and walks the block structure of GIF and WebP files to count their
frames and add up their frame durations: the numbers a file claims, which
:func:`processing.video.probe` checks against the limits before anything
is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["AnimationHeader", "animation_header", "sniff"]

#: ISO base media brands of still images (HEIC, HEIF, AVIF and their image
#: sequences): ``ftyp`` files that are photos, not videos.
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
     b"avif", b"avis", b"avci", b"avcs"}
)  # fmt: skip
#: QuickTime files written before ``ftyp`` existed start with one of these.
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide"})
#: A GIF frame with a delay at or below this (1/100 s) plays at 1/10 s in
#: every browser; so does it here (and for the frame rate checks).
_GIF_MIN_DELAY = 1
_GIF_DEFAULT_DELAY = 10


def sniff(head: bytes) -> str | None:
    """The format of a file from its first 64 bytes.

    Returns:
        ``"mp4"``, ``"mov"``, ``"webm"``, ``"gif"``, ``"webp"`` or None
        (anything else, including HEIC/AVIF photos and Matroska files that
        are not WebM).
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return "mov" if brand == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in _QT_ATOMS:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else None
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class AnimationHeader:
    """The claims of a GIF or WebP file's block structure.

    Attributes:
        width, height: the canvas (logical screen) size.
        frames: number of frames found (counting stops at ``stop_after``).
        duration: sum of the frame delays, seconds (GIF delays of 0 or
            1/100 s count as 1/10 s, as browsers play them).
        complete: False when the file ended inside a block.
    """

    width: int
    height: int
    frames: int
    duration: float
    complete: bool


def _read(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return data


def _skip_sub_blocks(stream: BinaryIO) -> None:
    while True:
        size = _read(stream, 1)[0]
        if size == 0:
            return
        stream.seek(size, 1)


def _gif_header(stream: BinaryIO, stop_after: int | None) -> AnimationHeader:
    screen = _read(stream, 13)
    width, height, packed = struct.unpack("<HHB", screen[6:11])
    if packed & 0x80:
        stream.seek(3 << ((packed & 7) + 1), 1)
    frames, centis, delay, complete = 0, 0, None, False
    try:
        while stop_after is None or frames < stop_after:
            block = _read(stream, 1)[0]
            if block == 0x3B:  # trailer
                complete = True
                break
            if block == 0x21:  # extension
                label = _read(stream, 1)[0]
                if label == 0xF9:
                    body = _read(stream, 6)
                    delay = struct.unpack("<H", body[2:4])[0]
                    stream.seek(-1, 1)  # the block terminator is a sub-block end
                _skip_sub_blocks(stream)
            elif block == 0x2C:  # image descriptor
                desc = _read(stream, 9)
                if desc[8] & 0x80:
                    stream.seek(3 << ((desc[8] & 7) + 1), 1)
                _read(stream, 1)  # LZW minimum code size
                _skip_sub_blocks(stream)
                frames += 1
                centis += (
                    delay if delay and delay > _GIF_MIN_DELAY else _GIF_DEFAULT_DELAY
                )
                delay = None
            else:
                break  # garbage after the frames: browsers stop here too
    except EOFError:
        pass
    return AnimationHeader(width, height, frames, centis / 100.0, complete)


def _webp_header(stream: BinaryIO, stop_after: int | None) -> AnimationHeader:
    riff = _read(stream, 12)
    end = 8 + struct.unpack("<I", riff[4:8])[0]
    pos, width, height, frames, millis = 12, 0, 0, 0, 0
    complete = False
    try:
        while pos + 8 <= end and (stop_after is None or frames < stop_after):
            fourcc, size = struct.unpack("<4sI", _read(stream, 8))
            pos += 8
            if fourcc == b"VP8X":
                body = _read(stream, 10)
                width = 1 + int.from_bytes(body[4:7], "little")
                height = 1 + int.from_bytes(body[7:10], "little")
                stream.seek(size - 10 + (size & 1), 1)
            elif fourcc == b"ANMF":
                body = _read(stream, 16)
                millis += int.from_bytes(body[12:15], "little")
                frames += 1
                stream.seek(size - 16 + (size & 1), 1)
            elif fourcc in (b"VP8 ", b"VP8L") and frames == 0:
                frames = 1  # a still WebP
                stream.seek(size + (size & 1), 1)
            else:
                stream.seek(size + (size & 1), 1)
            pos += size + (size & 1)
        complete = pos >= end
    except EOFError:
        pass
    return AnimationHeader(width, height, frames, millis / 1000.0, complete)


def animation_header(
    stream: BinaryIO, kind: str, *, stop_after: int | None = None
) -> AnimationHeader:
    """Walk a GIF's blocks or a WebP's RIFF chunks from the stream's position.

    Only headers and block lengths are read (image data is skipped with
    ``seek``): the cost is a few reads per frame, never a decode.

    Args:
        stream: a seekable binary file at the start of the file.
        kind: ``"gif"`` or ``"webp"`` (from :func:`sniff`).
        stop_after: stop counting after this many frames (for a quick "is
            there more than one frame?").

    Raises:
        EOFError, struct.error: the file ends inside its fixed header.
    """
    if kind == "gif":
        return _gif_header(stream, stop_after)
    return _webp_header(stream, stop_after)
