"""Peak memory of the styles that write their result over their own work
buffers or make their outlines in bands (issue 14, round 2): measured as the
growth of the process's peak resident size (``VmHWM``) while one style
renders an 8 MP image."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np
import pytest

from processing import looks

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/status"
)


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def _peak_growth(run) -> int:
    """Bytes the peak resident size grows by while ``run()`` runs, starting
    from a heap with its free pages given back."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    before = _status_bytes("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    run()
    return _status_bytes("VmHWM") - before


@pytest.fixture(scope="module")
def photo():
    h, w = 2448, 3264  # 8 MP
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (h // 16, w // 16, 3), np.uint8)
    image = np.repeat(np.repeat(small, 16, axis=0), 16, axis=1)
    image += rng.integers(0, 8, image.shape, np.uint8)  # a little texture
    return image


@pytest.mark.parametrize(
    ("style", "bytes_per_pixel"),
    [
        # the sketch (3 bytes a pixel) holds the column counts until it is
        # drawn; a separate uint16 array of counts made it 5
        (lambda img: looks.pencil(img, 60, 0.07, 0.05), 4.0),
        # the result is written over the 6-byte smoothing buffer; a new
        # array for it made it 9
        (lambda img: looks.watercolor(img, 60, 0.45), 7.5),
        # colours over the smoothing buffer (6) next to the 2-byte luma, the
        # outlines' DoG made in bands (measured 10.7); a new colour array at
        # the split and a full-size float32 DoG made it 13.5
        (lambda img: looks.cartoon(img, 40, 0.3, 8, 2, 0.1), 12.0),
        # colours (3) and luma (2) enlarged from the half-size washes, the
        # DoG in bands (measured 7.8); the full-size DoG made it 12.8
        (lambda img: looks.ink_wash(img, 40, 3, 0.6, 0.5, 0.1, 0.4), 10.0),
    ],
    ids=["pencil", "watercolor", "cartoon", "ink_wash"],
)
def test_style_writes_its_result_over_its_work_buffer(photo, style, bytes_per_pixel):
    style(photo[:32, :32].copy())  # kernels loaded before measuring
    result = None

    def run():
        nonlocal result
        result = style(photo)

    growth = _peak_growth(run)
    assert result.shape == photo.shape and result.dtype == np.uint8
    pixels = photo.shape[0] * photo.shape[1]
    assert growth < bytes_per_pixel * pixels, growth / pixels
