"""The one table of image and video formats the studio knows.

Decoding (the allow-list), encoding, stored file names, the upload form's
``accept`` list, media content types, download choices and the texts that
name the supported formats are all read from :data:`FORMATS`, so a format is
added or changed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DECODABLE",
    "ENCODABLE",
    "FORMATS",
    "MOVING",
    "ImageFormat",
    "accept_list",
    "by_name",
    "by_slug",
    "by_suffix",
    "content_type",
    "decodable_labels",
    "moving_accept_list",
    "moving_labels",
]


@dataclass(frozen=True)
class ImageFormat:
    """One image format.

    Attributes:
        name: Pillow's format name (``Image.format``), e.g. ``"JPEG"``.
        slug: the lower-case name used in URLs and the CLI (``?format=png``).
        label: how people call it, e.g. ``"WebP"``.
        suffix: the file suffix the studio stores it under, e.g. ``".jpg"``.
        mime: the content type it is served with.
        extensions: file name endings accepted on upload (``suffix`` first).
        mime_aliases: other content types browsers send for it.
        decodable: accepted as an upload (decoded by Pillow).
        encodable: produced by :func:`processing.encode` (OpenCV).
        moving: ``"video"`` for a video container (demuxed and decoded by
            FFmpeg through PyAV, :mod:`processing.video`), ``"animation"``
            for an image format that may hold several frames (GIF, WebP:
            :func:`processing.video.is_moving` tells which files do), ``""``
            for a still-only format.
    """

    name: str
    slug: str
    label: str
    suffix: str
    mime: str
    extensions: tuple[str, ...]
    mime_aliases: tuple[str, ...] = ()
    decodable: bool = True
    encodable: bool = False
    moving: Literal["", "video", "animation"] = ""


FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat(
        "JPEG", "jpeg", "JPEG", ".jpg", "image/jpeg", (".jpg", ".jpeg"), encodable=True
    ),
    ImageFormat("PNG", "png", "PNG", ".png", "image/png", (".png",), encodable=True),
    ImageFormat(
        "WEBP",
        "webp",
        "WebP",
        ".webp",
        "image/webp",
        (".webp",),
        encodable=True,
        moving="animation",
    ),
    ImageFormat(
        "GIF", "gif", "GIF", ".gif", "image/gif", (".gif",), moving="animation"
    ),
    # pillow-heif reports HEIC and HEIF files alike as "HEIF".
    ImageFormat(
        "HEIF",
        "heic",
        "HEIC",
        ".heic",
        "image/heic",
        (".heic", ".heif"),
        mime_aliases=("image/heif",),
    ),
    # Videos: not Pillow formats (``decodable`` is False); the name is the
    # container's, as :class:`processing.video.MediaInfo` reports it.
    ImageFormat(
        "MP4",
        "mp4",
        "MP4",
        ".mp4",
        "video/mp4",
        (".mp4", ".m4v"),
        mime_aliases=("video/x-m4v",),
        decodable=False,
        moving="video",
    ),
    ImageFormat(
        "MOV",
        "mov",
        "MOV",
        ".mov",
        "video/quicktime",
        (".mov", ".qt"),
        decodable=False,
        moving="video",
    ),
    ImageFormat(
        "WEBM",
        "webm",
        "WebM",
        ".webm",
        "video/webm",
        (".webm",),
        decodable=False,
        moving="video",
    ),  # fmt: skip
)

#: Pillow format names accepted on input, for ``Image.open(formats=...)``.
DECODABLE: tuple[str, ...] = tuple(f.name for f in FORMATS if f.decodable)
#: Formats that may hold moving pictures: the videos, then GIF and WebP.
MOVING: tuple[ImageFormat, ...] = tuple(
    sorted((f for f in FORMATS if f.moving), key=lambda f: f.moving != "video")
)
#: Slugs :func:`processing.encode` writes (``"jpg"`` is accepted as ``"jpeg"``).
ENCODABLE: tuple[str, ...] = tuple(f.slug for f in FORMATS if f.encodable)

_BY_NAME = {f.name: f for f in FORMATS}
_BY_SLUG = {f.slug: f for f in FORMATS} | {"jpg": _BY_NAME["JPEG"]}
_BY_SUFFIX = {ext: f for f in FORMATS for ext in f.extensions}


def by_name(name: str) -> ImageFormat | None:
    """The format with this Pillow name (``"JPEG"``), or None."""
    return _BY_NAME.get(name)


def by_slug(slug: str) -> ImageFormat | None:
    """The format with this slug (``"png"``; ``"jpg"`` means JPEG), or None."""
    return _BY_SLUG.get(str(slug).lower())


def by_suffix(suffix: str) -> ImageFormat | None:
    """The format stored or uploaded with this file suffix (``".jpeg"``), or None."""
    return _BY_SUFFIX.get(suffix.lower())


def content_type(suffix: str) -> str:
    """The content type to serve a file with this suffix as."""
    fmt = by_suffix(suffix)
    return fmt.mime if fmt else "application/octet-stream"


def accept_list() -> list[str]:
    """Content types and extensions of every decodable format, for a file
    input's ``accept`` attribute (extensions too: browsers often send HEIC
    files with an empty type)."""
    decodable = [f for f in FORMATS if f.decodable]
    types = [t for f in decodable for t in (f.mime, *f.mime_aliases)]
    return types + [ext for f in decodable for ext in f.extensions]


def decodable_labels() -> str:
    """ "JPEG, PNG, WebP, GIF, HEIC": the formats an upload may be in."""
    return ", ".join(f.label for f in FORMATS if f.decodable)


def moving_accept_list() -> list[str]:
    """Content types and extensions of the videos (MP4, MOV, WebM), for a
    file input's ``accept`` attribute next to :func:`accept_list` (which
    already lists GIF and WebP)."""
    videos = [f for f in MOVING if f.moving == "video"]
    types = [t for f in videos for t in (f.mime, *f.mime_aliases)]
    return types + [ext for f in videos for ext in f.extensions]


def moving_labels() -> str:
    """ "MP4, MOV, WebM, animated WebP, animated GIF": the moving formats."""
    return ", ".join(
        f.label if f.moving == "video" else f"animated {f.label}" for f in MOVING
    )
