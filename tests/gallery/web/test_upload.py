"""Upload validation: every bad file gets a clear message and leaves nothing."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.urls import reverse

from gallery.models import Artwork, Photo
from tests.conftest import image_bytes, stored_files, upload_file

pytestmark = pytest.mark.django_db


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'

BAD_UPLOADS = {
    "empty": (b"", "photo.jpg"),
    "text renamed .jpg": (b"hello, this is not a photo\n" * 20, "photo.jpg"),
    "truncated jpeg": (image_bytes(width=640, height=480)[:3000], "photo.jpg"),
    "svg": (SVG, "drawing.svg"),
    "png declaring 30000x30000": (_png_declaring(30000, 30000), "huge.png"),
}


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_bad_upload_gives_form_error_and_creates_nothing(
    owner_client, media_root, queue, name
):
    data, filename = BAD_UPLOADS[name]
    response = owner_client.post(
        reverse("gallery:upload"),
        {"image": upload_file(data, filename), "style": ["pencil"]},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "image" in errors, errors
    assert errors["image"][0]
    assert not Photo.objects.exists() and not Artwork.objects.exists()
    assert stored_files(media_root) == []
    assert queue.count == 0


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_bad_upload_through_api_is_400_with_field(
    owner_client, queue, media_root, name
):
    data, filename = BAD_UPLOADS[name]
    response = owner_client.post(
        reverse("gallery:api_artworks"),
        {"image": upload_file(data, filename), "style": "pencil"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "image" and body["error"]
    assert not Photo.objects.exists()
    assert stored_files(media_root) == []


def test_too_large_file_is_refused_with_size(owner_client, settings, media_root):
    settings.STUDIO_MAX_UPLOAD_BYTES = 2048
    response = owner_client.post(
        reverse("gallery:upload"), {"image": upload_file(), "style": ["pencil"]}
    )
    assert response.status_code == 200
    assert "limit" in response.context["form"].errors["image"][0]
    assert stored_files(media_root) == []


def test_no_style_chosen(owner_client):
    response = owner_client.post(reverse("gallery:upload"), {"image": upload_file()})
    assert response.context["form"].errors["style"] == ["Choose at least one style."]
    assert not Photo.objects.exists()


def test_out_of_range_parameter_is_named(owner_client):
    response = owner_client.post(
        reverse("gallery:upload"),
        {"image": upload_file(), "style": ["pencil"], "param:pencil:sigma_s": "999"},
    )
    message = response.context["form"].errors["params"][0]
    assert "sigma_s" in message
    assert not Photo.objects.exists()


def test_parameters_from_the_page_are_stored(owner_client, queue):
    owner_client.post(
        reverse("gallery:upload"),
        {"image": upload_file(), "style": ["oil"], "param:oil:size": "3"},
    )
    artwork = Artwork.objects.get()
    assert artwork.params["size"] == 3


def test_several_styles_make_several_artworks(
    owner_client, queue, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("gallery:upload"),
            {"image": upload_file(), "style": ["pencil", "cartoon", "oil"]},
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:my_gallery")
    assert Photo.objects.count() == 1
    assert sorted(Artwork.objects.values_list("style", flat=True)) == [
        "cartoon",
        "oil",
        "pencil",
    ]
    # The fair queue: the owner's share goes on now, the rest as those end.
    assert queue.count == min(3, settings.STUDIO_QUEUE_SHARE)


@pytest.mark.parametrize(
    "fmt,name", [("PNG", "p.png"), ("WEBP", "p.webp"), ("GIF", "p.gif")]
)
def test_other_formats_accepted(owner_client, queue, fmt, name):
    response = owner_client.post(
        reverse("gallery:upload"),
        {"image": upload_file(image_bytes(fmt), name), "style": ["pencil"]},
    )
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.format == fmt
    assert (photo.width, photo.height) == (320, 240)
    assert photo.original.name.startswith("originals/")
    assert name not in photo.original.name
