"""The format table is the one source of format knowledge."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

import processing
from processing import formats
from processing.codec import ALLOWED_FORMATS


def test_decoder_allow_list_is_the_table():
    assert ALLOWED_FORMATS == tuple(f.name for f in formats.FORMATS if f.decodable)
    assert set(ALLOWED_FORMATS) <= set(Image.OPEN)


@pytest.mark.parametrize("fmt", [f for f in formats.FORMATS if f.encodable])
def test_every_encodable_format_round_trips(fmt):
    image = np.full((8, 12, 3), (10, 120, 230), np.uint8)
    data = processing.encode(image, fmt.slug, 95)
    assert processing.inspect(data).format == fmt.name
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape


def test_encode_refuses_a_format_it_cannot_write():
    with pytest.raises(ValueError, match="jpeg, png, webp"):
        processing.encode(np.zeros((2, 2, 3), np.uint8), "gif")


def test_lookups_and_accept_list():
    assert formats.by_slug("jpg") is formats.by_name("JPEG")
    assert formats.by_suffix(".JPEG").suffix == ".jpg"
    assert formats.by_suffix(".heif").name == "HEIF"
    assert formats.content_type(".webp") == "image/webp"
    assert formats.content_type(".exe") == "application/octet-stream"
    accept = formats.accept_list()
    assert "image/heif" in accept and ".heic" in accept and ".jpeg" in accept
    assert formats.decodable_labels() == "JPEG, PNG, WebP, GIF, HEIC"
