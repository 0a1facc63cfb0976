"""ZIP archives streamed from storage: chosen results, and a whole account.

The archive is written by the standard library's ``zipfile`` into a sink
that hands each piece to the response as soon as it exists, and files are
copied from storage in small chunks, so memory stays flat whatever the
archive's size. Entries are stored, not deflated: JPEG, PNG and WebP do
not shrink, and the CPU is better spent rendering.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.utils import timezone

from gallery.models import Artwork, Photo, Preset, Profile, ShareLink

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class Member:
    """One file of an archive: its name, its size when known, and either
    the bytes or a storage file to copy."""

    name: str
    data: bytes | None = None
    field: object = None
    size: int = 0


class _Sink:
    """A write-only, unseekable file for ``zipfile``: collects what is
    written until :meth:`take` hands it on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream_zip(
    members: Iterable[Member], written: set[str] | None = None
) -> Iterator[bytes]:
    """The ZIP of ``members``, piece by piece. A storage file that has gone
    missing is left out (and logged) rather than breaking the download;
    ``written`` collects the names that made it in, so a listing made after
    the files (``recipes.json``, ``account.json``) names only those."""
    written = set() if written is None else written
    sink = _Sink()
    now = timezone.localtime().timetuple()[:6]
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=now)
            info.external_attr = 0o644 << 16
            if member.data is not None:
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, member.data)
                written.add(member.name)
                yield sink.take()
                continue
            try:
                source = member.field.open("rb")
            except FileNotFoundError:
                logger.warning("archive: %s is missing from storage", member.name)
                continue
            # The size decides whether the entry needs ZIP64 fields.
            info.file_size = member.size or member.field.size
            with source, archive.open(info, "w") as out:
                while chunk := source.read(CHUNK_SIZE):
                    out.write(chunk)
                    yield sink.take()
            written.add(member.name)
            yield sink.take()
    yield sink.take()


def _suffix(field) -> str:
    return PurePosixPath(field.name).suffix.lower()


def result_name(artwork: Artwork) -> str:
    """``<style>-<id>.<ext>``: the name of an artwork's result in archives."""
    return f"{artwork.style}-{artwork.pk}{_suffix(artwork.result)}"


def _recipe(artwork: Artwork) -> dict:
    return {
        "id": artwork.pk,
        "style": artwork.style,
        "params": artwork.params,
        "engine_version": artwork.engine_version,
        "created": artwork.created.isoformat(),
    }


def _json(value) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


def artworks_zip(artworks: list[Artwork]) -> Iterator[bytes]:
    """The results of these (done) artworks plus ``recipes.json``."""
    written: set[str] = set()

    def members() -> Iterator[Member]:
        for a in artworks:
            yield Member(result_name(a), field=a.result, size=a.result_bytes)
        recipes = [
            {**_recipe(a), "file": result_name(a)}
            for a in artworks
            if result_name(a) in written
        ]
        yield Member("recipes.json", data=_json(recipes))

    return stream_zip(members(), written)


def original_name(photo: Photo) -> str:
    return f"originals/photo-{photo.pk}{_suffix(photo.original)}"


def account_zip(user, share_url: Callable[[ShareLink], str]) -> Iterator[bytes]:
    """Everything of one member: ``account.json`` (profile, photos, artworks
    with their recipes, presets, share links), ``originals/`` and
    ``results/``. ``share_url`` turns a link into its address."""
    photos = list(Photo.objects.filter(owner=user).order_by("id"))
    artworks = list(Artwork.objects.filter(owner=user).order_by("id"))
    written: set[str] = set()

    def listed(name: str) -> str | None:
        return name if name in written else None

    def members() -> Iterator[Member]:
        for photo in photos:
            yield Member(
                original_name(photo), field=photo.original, size=photo.byte_size
            )
        for artwork in artworks:
            if artwork.result:
                yield Member(
                    f"results/{result_name(artwork)}",
                    field=artwork.result,
                    size=artwork.result_bytes,
                )
        document = _account_document(user, photos, artworks, listed, share_url)
        yield Member("account.json", data=_json(document))

    return stream_zip(members(), written)


def _account_document(user, photos, artworks, listed, share_url) -> dict:
    profile = Profile.objects.filter(user=user).first()
    links = ShareLink.objects.filter(artwork__owner=user).order_by("id")
    return {
        "format": "impressionist-art-studio-export/1",
        "exported": timezone.now().isoformat(),
        "account": {
            "username": user.get_username(),
            "email": user.email,
            "display_name": profile.display_name if profile else "",
            "date_joined": user.date_joined.isoformat(),
        },
        "photos": [
            {
                "id": p.pk,
                "file": listed(original_name(p)),
                "original_name": p.original_name,
                "format": p.format,
                "width": p.width,
                "height": p.height,
                "byte_size": p.byte_size,
                "created": p.created.isoformat(),
            }
            for p in photos
        ],
        "artworks": [
            {
                **_recipe(a),
                "photo": a.photo_id,
                "status": a.status,
                "public": a.public,
                "file": listed(f"results/{result_name(a)}") if a.result else None,
            }
            for a in artworks
        ],
        "presets": [
            {"id": p.pk, "name": p.name, "style": p.style, "params": p.params}
            for p in Preset.objects.filter(owner=user).order_by("id")
        ],
        "share_links": [
            {
                "artwork": link.artwork_id,
                "url": share_url(link),
                "created": link.created.isoformat(),
                "expires": link.expires.isoformat(),
            }
            for link in links
        ],
    }
