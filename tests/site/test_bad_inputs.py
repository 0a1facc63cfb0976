"""A bad-input corpus, made in code, pushed through the real upload view, the
JSON API and the real rq job.

Every file either gets a clear refusal (a plain-words form error or JSON
error, no rows, no files) or becomes a correct, metadata-free artwork; never
a 500 and never a row left queued or processing after the worker ran. The
names users send never reach storage, and the web process's memory stays
bounded while the whole corpus (bombs included) goes through the view.
"""

from __future__ import annotations

import html
import io
import re
import struct
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image, ImageCms

from gallery.models import Artwork, Photo
from tests.conftest import image_bytes, photo_array, stored_files, upload_file

pytestmark = pytest.mark.django_db(transaction=True)

STYLE = "pencil"  # the cheapest style: the corpus is about inputs, not looks

UNSUPPORTED = "not a supported image"
TOO_LARGE = "too large"
DAMAGED = "truncated or damaged"
EMPTY = "empty"

# What a user must never read in an error message.
LEAKS = (
    "Traceback",
    "Exception",
    "Error:",
    "OSError",
    "ValueError",
    "SyntaxError",
    "DecompressionBomb",
    "UnidentifiedImage",
    "InvalidImage",
    "PIL.",
    "cv2",
    'File "',
)


# ------------------------------------------------------------- the corpus --


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png(width: int, height: int, depth: int, color: int, idat: bytes, plte=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + (_chunk(b"PLTE", plte) if plte else b"")
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _zeros_deflated(row_bytes: int, rows: int) -> bytes:
    """``rows`` all-zero scanlines (filter byte included), deflated, streamed."""
    comp = zlib.compressobj(9)
    row = b"\x00" * row_bytes
    return b"".join(comp.compress(row) for _ in range(rows)) + comp.flush()


def png_huge_ihdr() -> bytes:
    """A 70-byte PNG whose header claims 100000x100000 RGB pixels."""
    return _png(100_000, 100_000, 8, 2, zlib.compress(b"\x00" * 301))


@cache
def png_bomb_1bit() -> bytes:
    """A real bomb: 20000x20000 1-bit pixels (400 MP) deflated to ~48 KB."""
    size = 20_000
    return _png(size, size, 1, 0, _zeros_deflated(1 + size // 8, size))


@cache
def png_bomb_palette() -> bytes:
    """8000x8000 paletted (64 MP, under Pillow's own bomb limit, over ours)."""
    size = 8000
    return _png(size, size, 8, 3, _zeros_deflated(1 + size, size), b"\x10\x20\x30")


def gif_huge_screen() -> bytes:
    """GIF logical screen 65535x65535 around a 1x1 frame."""
    buffer = io.BytesIO()
    Image.new("P", (1, 1)).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def webp_canvas(width: int, height: int) -> bytes:
    """An animated WebP of two 8x8 frames on a VP8X canvas of width x height."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=True
    )
    data = bytearray(buffer.getvalue())
    at = data.index(b"VP8X") + 12
    data[at : at + 3] = (width - 1).to_bytes(3, "little")
    data[at + 3 : at + 6] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def webp_still_huge_vp8x() -> bytes:
    """A still WebP whose VP8X canvas (16383x16383) disagrees with its frame."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "WEBP", lossless=True)
    frame = buffer.getvalue()[12:]  # the VP8L chunk
    side = (16383 - 1).to_bytes(3, "little")
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4 + side + side
    body = b"WEBP" + vp8x + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_huge_sof() -> bytes:
    """A real small JPEG whose SOF0 claims 65500x65500."""
    data = bytearray(image_bytes("JPEG", 64, 48))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(data)


def tiff() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_array(64, 48)).save(buffer, "TIFF")
    return buffer.getvalue()


def eps() -> bytes:
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n%%EndComments\n"
        b"newpath 0 0 moveto 64 48 lineto stroke\nshowpage\n%%EOF\n"
    )


def eps_binary() -> bytes:
    """DOS EPS binary header (C5 D0 D3 C6) in front of the PostScript."""
    ps = eps()
    return b"\xc5\xd0\xd3\xc6" + struct.pack("<6I", 30, len(ps), 0, 0, 0, 0) + ps


def psd() -> bytes:
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 48, 64, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + b"\x00\x00" + b"\x80" * 64 * 48 * 3


def fits() -> bytes:
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        "NAXIS1  =                   64",
        "NAXIS2  =                   48",
        "END",
    ]
    header = "".join(card.ljust(80) for card in cards).ljust(2880).encode()
    return header + b"\x00" * 2880


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
        b'width="64" height="48"><script>alert(1)</script>'
        b'<rect width="64" height="48"/></svg>'
    )


def jpeg_zip_polyglot() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.html", "<html><script>alert(1)</script></html>")
    return image_bytes("JPEG", 96, 64) + archive.getvalue()


HTML_TAIL = b"<html><script>alert(document.cookie)</script></html>"


def png_with_html() -> bytes:
    return image_bytes("PNG", 96, 64) + HTML_TAIL


def cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_array(96, 64)).convert("CMYK").save(buffer, "JPEG")
    return buffer.getvalue()


def png_16bit() -> bytes:
    ramp = np.linspace(0, 65535, 96 * 64).reshape(64, 96).astype(np.uint16)
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def animated(fmt: str) -> bytes:
    frames = [Image.fromarray(photo_array(96, 64, seed=s)) for s in range(3)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0
    )
    return buffer.getvalue()


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
    b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="secret-cam"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    exif[0x010F] = "SecretCam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    gps[3], gps[4] = "E", (13.0, 24.0, 36.0)
    return exif


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_exif_gps_xmp_icc() -> bytes:
    """320x240 stored pixels, orientation 6: upright it is 240x320."""
    buffer = io.BytesIO()
    Image.fromarray(photo_array(320, 240)).save(
        buffer, "JPEG", exif=_exif_with_gps(), icc_profile=_icc(), xmp=XMP
    )
    data = buffer.getvalue()
    for marker in (b"Exif", b"http://ns.adobe.com/xap", b"ICC_PROFILE"):
        assert marker in data
    return data


def png_exif_gps_icc() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_array(120, 80)).save(
        buffer, "PNG", exif=_exif_with_gps(), icc_profile=_icc()
    )
    return buffer.getvalue()


def truncated(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        data = image_bytes(fmt, 320, 240)
        return data[: len(data) // 2]

    return make


def png_bad_idat_crc() -> bytes:
    data = bytearray(image_bytes("PNG", 64, 48))
    at = data.index(b"IDAT") + 8
    data[at] ^= 0xFF
    return bytes(data)


def jpeg_corrupt_scan() -> bytes:
    """Garbage in the middle of the entropy-coded data: decodable, ugly."""
    data = bytearray(image_bytes("JPEG", 96, 64))
    middle = len(data) // 2
    data[middle : middle + 40] = b"\x5a" * 40
    return bytes(data)


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], bytes]
    name: str = "photo.jpg"
    content_type: str = "image/jpeg"
    refusal: str = ""  # expected fragment of the refusal; "" = accepted
    size: tuple[int, int] | None = None  # upright (width, height) when accepted
    bomb: bool = False

    def data(self) -> bytes:
        if self.id not in _MADE:
            _MADE[self.id] = self.make()
        return _MADE[self.id]


_MADE: dict[str, bytes] = {}


REFUSED = [
    Case("zero-bytes", lambda: b"", refusal=EMPTY),
    Case("text", lambda: b"just some notes\n" * 20, "notes.jpg", refusal=UNSUPPORTED),
    Case("html-as-png", lambda: HTML_TAIL, "page.png", "image/png", UNSUPPORTED),
    Case("svg", svg, "drawing.svg", "image/svg+xml", UNSUPPORTED),
    Case("svg-as-jpg", svg, refusal=UNSUPPORTED),
    Case("tiff-as-jpg", tiff, refusal=UNSUPPORTED),
    Case("eps-as-jpg", eps, refusal=UNSUPPORTED),
    Case("eps-binary-as-jpg", eps_binary, refusal=UNSUPPORTED),
    Case("psd-as-jpg", psd, refusal=UNSUPPORTED),
    Case("fits-as-jpg", fits, refusal=UNSUPPORTED),
    Case(
        "pdf-as-jpg",
        lambda: b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF\n",
        refusal=UNSUPPORTED,
    ),  # noqa: E501
    Case("png-huge-ihdr", png_huge_ihdr, "big.png", "image/png", TOO_LARGE, bomb=True),
    Case("png-bomb-1bit", png_bomb_1bit, "b.png", "image/png", TOO_LARGE, bomb=True),
    Case(
        "png-bomb-palette", png_bomb_palette, "p.png", "image/png", TOO_LARGE, bomb=True
    ),
    Case(
        "gif-screen-65535", gif_huge_screen, "g.gif", "image/gif", TOO_LARGE, bomb=True
    ),
    Case(
        "webp-canvas-16383",
        lambda: webp_canvas(16383, 16383),
        "w.webp",
        "image/webp",
        TOO_LARGE,
        bomb=True,
    ),
    Case(
        "webp-still-vp8x-16383",
        webp_still_huge_vp8x,
        "s.webp",
        "image/webp",
        DAMAGED,
        bomb=True,
    ),
    Case("jpeg-sof-65500", jpeg_huge_sof, refusal=TOO_LARGE, bomb=True),
    Case("truncated-jpeg", truncated("JPEG"), refusal=DAMAGED),
    Case("truncated-png", truncated("PNG"), "t.png", "image/png", DAMAGED),
    Case("truncated-webp", truncated("WEBP"), "t.webp", "image/webp", DAMAGED),
    Case("truncated-gif", truncated("GIF"), "t.gif", "image/gif", DAMAGED),
    Case("png-bad-idat-crc", png_bad_idat_crc, "c.png", "image/png", DAMAGED),
]

ACCEPTED = [
    Case("plain-jpeg", lambda: image_bytes("JPEG", 96, 64), size=(96, 64)),
    Case("jpeg-zip-polyglot", jpeg_zip_polyglot, size=(96, 64)),
    Case("png-with-html", png_with_html, "p.png", "image/png", size=(96, 64)),
    Case("png-named-jpg", lambda: image_bytes("PNG", 96, 64), size=(96, 64)),
    Case(
        "jpeg-named-gif",
        lambda: image_bytes("JPEG", 96, 64),
        "x.gif",
        "image/gif",
        size=(96, 64),
    ),
    Case("cmyk-jpeg", cmyk_jpeg, size=(96, 64)),
    Case("png-16bit", png_16bit, "deep.png", "image/png", size=(96, 64)),
    Case("animated-gif", lambda: animated("GIF"), "a.gif", "image/gif", size=(96, 64)),
    Case(
        "animated-webp", lambda: animated("WEBP"), "a.webp", "image/webp", size=(96, 64)
    ),
    Case("jpeg-exif6-gps-xmp-icc", jpeg_exif_gps_xmp_icc, size=(240, 320)),
    Case("png-exif6-gps-icc", png_exif_gps_icc, "e.png", "image/png", size=(80, 120)),
    Case("jpeg-corrupt-scan", jpeg_corrupt_scan, size=(96, 64)),
]


# ---------------------------------------------------------------- helpers --


def _post(client, url: str, case: Case, **extra):
    upload = upload_file(case.data(), case.name, case.content_type)
    return client.post(url, {"image": upload, "style": [STYLE]}, **extra)


def _form_errors(response) -> list[str]:
    page = response.content.decode()
    found = re.findall(r'<[^>]*class="form-error"[^>]*>(.*?)</', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", " ", e)).strip() for e in found]


def _assert_plain(message: str, fragment: str) -> None:
    assert fragment.lower() in message.lower(), message
    for leak in LEAKS:
        assert leak not in message, message


def _assert_nothing_written(media_root: Path) -> None:
    assert Photo.objects.count() == 0
    assert Artwork.objects.count() == 0
    assert stored_files(media_root) == []


def _assert_names_contained(media_root: Path, *user_names: str) -> None:
    """Every stored file is a generated name inside media_root."""
    root = media_root.resolve()
    stored = [p for p in media_root.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        real = path.resolve()
        assert real.is_relative_to(root), real
        relative = str(real.relative_to(root))
        assert re.fullmatch(
            r"(originals|results|thumbnails|previews)/[0-9a-f]{2}/[0-9a-f]{32}"
            r"\.(jpg|png|webp|gif|heic|mp4)",
            relative,
        ), relative
        for name in user_names:
            stem = Path(name.replace("\\", "/")).stem[:12]
            if len(stem) >= 4:
                assert stem not in relative, relative


def _served(client, url: str) -> tuple[object, bytes]:
    response = client.get(url)
    assert response.status_code == 200, url
    body = b"".join(response.streaming_content)
    response.close()
    assert response["X-Content-Type-Options"] == "nosniff", url
    return response, body


def _assert_no_metadata(data: bytes, fmt: str) -> Image.Image:
    for marker in (
        b"Exif",
        b"http://ns.adobe.com/xap",
        b"ICC_PROFILE",
        b"SecretCam",
        b"secret-cam",
        b"<html",
        b"<script",
        b"PK\x03\x04",
    ):
        assert marker not in data, marker
    if fmt == "PNG":
        for chunk in (b"eXIf", b"iCCP", b"iTXt", b"tEXt", b"zTXt"):
            assert chunk not in data, chunk
    if fmt == "WEBP":
        for chunk in (b"EXIF", b"ICCP", b"XMP "):
            assert chunk not in data, chunk
    image = Image.open(io.BytesIO(data))
    assert image.format == fmt
    image.load()
    exif = image.getexif()
    assert not exif and not exif.get_ifd(0x8825)
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp"):
        assert key not in image.info, key
    return image


# ------------------------------------------------------------------ tests --


@pytest.fixture(autouse=True)
def generous_limits(settings):
    """The corpus is many uploads by one user in one minute. (And a fast
    password hasher: the owner fixture hashes a password for every case.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STUDIO_UPLOAD_RATE = 10_000
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 10_000
    settings.STUDIO_JOB_RETRY_DELAYS = [0]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_refused_with_a_plain_message_and_nothing_written(
    owner_client, queue, media_root, case
):
    started = time.perf_counter()
    response = _post(owner_client, reverse("gallery:upload"), case)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    errors = _form_errors(response)
    assert errors, "no form error shown"
    _assert_plain(errors[0], case.refusal)
    if case.bomb:
        assert elapsed < 2, f"{case.id} took {elapsed:.2f} s to refuse"

    api = _post(owner_client, reverse("gallery:api_artworks"), case)
    assert api.status_code == 400
    assert api["Content-Type"] == "application/json"
    body = api.json()
    assert body["field"] == "image"
    _assert_plain(body["error"], case.refusal)

    _assert_nothing_written(media_root)
    assert queue.count == 0


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.id)
def test_accepted_file_becomes_a_clean_upright_artwork(
    owner_client, run_worker, media_root, case
):
    response = _post(owner_client, reverse("gallery:upload"), case)
    assert response.status_code == 302, _form_errors(response)
    api = _post(owner_client, reverse("gallery:api_artworks"), case)
    assert api.status_code == 202, api.content
    run_worker()

    assert Artwork.objects.count() == 2
    for artwork in Artwork.objects.select_related("photo"):
        assert artwork.status == Artwork.Status.DONE, artwork.error
        assert (artwork.photo.width, artwork.photo.height) == case.size

        # An animated GIF or WebP is an animation (issue 15): its result is
        # an MP4 (tests/gallery/web/test_video.py checks it frame by frame).
        moving = artwork.photo.media == "animation"
        assert moving == case.id.startswith("animated-")
        result, data = _served(
            owner_client, reverse("gallery:artwork_media", args=[artwork.pk, "result"])
        )
        if moving:
            assert result["Content-Type"] == "video/mp4"
            assert data[4:8] == b"ftyp"
        else:
            assert result["Content-Type"] == "image/jpeg"
            # Orientation applied first: the result is upright, sides swapped
            # for the EXIF-rotated photos.
            assert _assert_no_metadata(data, "JPEG").size == case.size

        thumb, data = _served(
            owner_client,
            reverse("gallery:artwork_media", args=[artwork.pk, "thumbnail"]),
        )
        assert thumb["Content-Type"] == "image/jpeg"
        _assert_no_metadata(data, "JPEG")

        media = reverse("gallery:artwork_media", args=[artwork.pk, "result"])
        for fmt, content_type in (
            () if moving else (("png", "image/png"), ("webp", "image/webp"))
        ):
            url = f"{media}?download=1&format={fmt}"
            # A worker converts it (503 until then), once per result: the
            # second artwork shares the first one's result.
            assert owner_client.get(url).status_code in (200, 503)
            run_worker()
            download, data = _served(owner_client, url)
            assert download["Content-Type"] == content_type
            _assert_no_metadata(data, fmt.upper())

        # The original is the owner's own upload, served as sent (owner
        # only), but always with an image type and nosniff.
        original, _data = _served(
            owner_client,
            reverse("gallery:artwork_media", args=[artwork.pk, "original"]),
        )
        assert original["Content-Type"].startswith("image/"), original["Content-Type"]

    _assert_names_contained(media_root, case.name)


def _multipart(disposition: bytes, data: bytes) -> tuple[bytes, str]:
    """A hand-made body: the test client would basename() the file name."""
    boundary = f"badinputs{uuid.uuid4().hex}"
    dash = b"--" + boundary.encode()
    body = b"".join(
        [
            dash + b'\r\nContent-Disposition: form-data; name="style"\r\n\r\n',
            STYLE.encode() + b"\r\n",
            dash + b'\r\nContent-Disposition: form-data; name="image"; ',
            disposition + b"\r\nContent-Type: image/jpeg\r\n\r\n",
            data + b"\r\n",
            dash + b"--\r\n",
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


CONTROL = "".join(chr(c) for c in range(32) if c not in (10, 13))
LONG = "a" * 296 + ".jpg"
HOSTILE_NAMES = [
    ("traversal", b'filename="../../etc/passwd.jpg"', "../../etc/passwd.jpg"),
    ("absolute", b'filename="/etc/cron.d/evil.jpg"', "/etc/cron.d/evil.jpg"),
    (
        "windows-traversal",
        b'filename="..\\..\\windows\\system32\\evil.jpg"',
        "..\\..\\windows\\system32\\evil.jpg",
    ),
    (
        "rfc2231-traversal",
        b"filename*=UTF-8''..%2F..%2F..%2Fetc%2Fshadow.jpg",
        "../../../etc/shadow.jpg",
    ),
    ("300-chars", f'filename="{LONG}"'.encode(), LONG),
    (
        "control-chars",
        f'filename="ctl{CONTROL}name.jpg"'.encode(),
        f"ctl{CONTROL}name.jpg",
    ),
    (
        "rfc2231-nul-newline",
        b"filename*=UTF-8''nul%00new%0Aline%0Dname.jpg",
        "nul\x00new\nline\rname.jpg",
    ),
    (
        "rtl-override",
        'filename="invoice\u202egpj.exe"'.encode(),
        "invoice\u202egpj.exe",
    ),
    (
        "html-in-name",
        b'filename="<img src=x onerror=alert(1)>.jpg"',
        "<img src=x onerror=alert(1)>.jpg",
    ),
]
# Names that sanitise to nothing: the file is dropped, the form says so.
EMPTY_NAMES = [
    ("only-control-chars", f'filename="{CONTROL}"'.encode()),
    ("dot-dot", b'filename=".."'),
    ("slash", b'filename="/"'),
]


def test_hostile_file_names_never_reach_storage(owner_client, run_worker, media_root):
    """Sent through the real multipart parser; one worker run for all."""
    uploaded = {}
    for index, (case_id, disposition, _sent) in enumerate(HOSTILE_NAMES):
        # A different size each, so that no two share one rendering.
        data = image_bytes("JPEG", 96 + index, 64)
        body, content_type = _multipart(disposition, data)
        response = owner_client.generic(
            "POST", reverse("gallery:upload"), body, content_type=content_type
        )
        assert response.status_code == 302, (case_id, _form_errors(response))
        uploaded[case_id] = Photo.objects.get(width=96 + index)
    run_worker()
    for case_id, photo in uploaded.items():
        artwork = photo.artworks.get()
        artwork.refresh_from_db()
        assert artwork.status == Artwork.Status.DONE, (case_id, artwork.error)
        assert photo.original.name.endswith(".jpg"), case_id
        kept = photo.original_name
        assert len(kept) <= 255, case_id
        assert "/" not in kept and "\\" not in kept, (case_id, kept)
        assert all(ch.isprintable() for ch in kept), (case_id, repr(kept))
        # The kept name is shown escaped on the remix page.
        page = owner_client.get(f"{reverse('gallery:upload')}?remix={artwork.pk}")
        assert page.status_code == 200, case_id
        assert b"<img src=x" not in page.content, case_id
    _assert_names_contained(media_root, *(sent for _i, _d, sent in HOSTILE_NAMES))


@pytest.mark.parametrize("disposition", [pytest.param(d, id=i) for i, d in EMPTY_NAMES])
def test_file_name_that_sanitises_to_nothing_is_refused(
    owner_client, media_root, disposition
):
    body, content_type = _multipart(disposition, image_bytes("JPEG", 96, 64))
    response = owner_client.generic(
        "POST", reverse("gallery:upload"), body, content_type=content_type
    )
    assert response.status_code == 200
    _assert_plain(_form_errors(response)[0], "photo")
    _assert_nothing_written(media_root)


def _status_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so that it then records
    the peak reached *inside* a request, not only between requests."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# Nothing in the corpus is above 100 KB; the largest legitimate transient in
# the web process is one upload held twice (request + form read) plus
# Pillow's header parse. A decoded bomb would be 400 MB (20000x20000 1-bit,
# one byte per pixel in Pillow) or 64 MB (8000x8000 palette) for every
# upload, and a leak of a mere 1 MB per request would add up over the three
# rounds below: 150 MB is far above the noise of the allocator and of
# Django's per-request objects, and far below any one real decode.
RSS_GROWTH_BOUND_MIB = 150


def test_web_memory_stays_bounded_and_bombs_are_refused_fast(
    owner_client, queue, media_root
):
    url = reverse("gallery:upload")
    corpus = [(c, c.data()) for c in REFUSED + ACCEPTED]  # made before measuring
    warm = owner_client.post(
        url, {"image": upload_file(image_bytes()), "style": [STYLE]}
    )
    assert warm.status_code == 302
    before = _status_kib("VmRSS")
    peak = before
    peak_tracked = _reset_peak_rss()
    slowest: dict[str, float] = {}
    for _round in range(3):
        for case, data in corpus:
            started = time.perf_counter()
            response = owner_client.post(
                url,
                {
                    "image": upload_file(data, case.name, case.content_type),
                    "style": [STYLE],
                },
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == (302 if not case.refusal else 200), case.id
            slowest[case.id] = max(slowest.get(case.id, 0.0), elapsed)
            peak = max(peak, _status_kib("VmRSS"))
    if peak_tracked:
        peak = max(peak, _status_kib("VmHWM"))
    growth_mib = (_status_kib("VmRSS") - before) / 1024
    peak_mib = (peak - before) / 1024
    print(f"\nweb RSS growth {growth_mib:.1f} MiB, peak +{peak_mib:.1f} MiB")
    assert peak_mib < RSS_GROWTH_BOUND_MIB
    assert growth_mib < RSS_GROWTH_BOUND_MIB
    for case in REFUSED:
        if case.bomb:
            assert slowest[case.id] < 2, (case.id, slowest[case.id])
    # Only the accepted files (and the warm-up) were stored.
    assert Photo.objects.count() == 1 + 3 * len(ACCEPTED)
