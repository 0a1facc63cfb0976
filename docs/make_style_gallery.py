"""Render docs/styles.jpg: every style on real photographs, for the README.

    .venv/bin/python docs/make_style_gallery.py

The photographs are scikit-image's bundled data images (astronaut, coffee,
chelsea, the left view of stereo_motorcycle, rocket): they ship inside the
scikit-image wheel (a dev dependency), so nothing is downloaded. Each is
upscaled (bicubic) to a 1400-px long side, about the size of a photo a
phone shares, rendered at default parameters through the full-size path
(``processing.render``) and shrunk to its tile; the last column is a 100 %
crop of the astronaut's render, where the brush marks can be seen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import processing  # noqa: E402

TILE_W, TILE_H = 280, 210
LONG_SIDE = 1400
LABEL_H = 26
#: The 100 % crop of the astronaut render (x, y of its top-left corner).
CROP_AT = (430, 110)


def photographs() -> list[tuple[str, np.ndarray]]:
    """The bundled photos as BGR uint8, upscaled to LONG_SIDE."""
    photos = [
        ("astronaut", data.astronaut()),
        ("coffee", data.coffee()),
        ("chelsea", data.chelsea()),
        ("motorcycle", data.stereo_motorcycle()[0]),
        ("rocket", data.rocket()),
    ]
    result = []
    for name, rgb in photos:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        scale = LONG_SIDE / max(bgr.shape[:2])
        size = (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale))
        result.append((name, cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC)))
    return result


def tile(image: np.ndarray) -> np.ndarray:
    """Centre crop to the tile's 4:3 and shrink (INTER_AREA)."""
    h, w = image.shape[:2]
    if w * TILE_H > h * TILE_W:
        cw = h * TILE_W // TILE_H
        image = image[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = w * TILE_H // TILE_W
        image = image[(h - ch) // 2 : (h - ch) // 2 + ch]
    return cv2.resize(image, (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)


def label(text: str, width: int) -> np.ndarray:
    """A white strip with ``text`` on the left and "100 % crop" over the last tile."""
    strip = np.full((LABEL_H, width, 3), 255, np.uint8)
    for words, x in ((text, 8), ("100 % crop", width - TILE_W + 8)):
        cv2.putText(
            strip, words, (x, LABEL_H - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
            (30, 30, 30), 1, cv2.LINE_AA,
        )  # fmt: skip
    return strip


def main() -> None:
    photos = photographs()
    rows = []
    x, y = CROP_AT
    for slug in [None, *processing.STYLES]:
        tiles = []
        crop = None
        for name, photo in photos:
            out = photo if slug is None else processing.render(photo, slug)
            tiles.append(tile(out))
            if name == "astronaut":
                crop = out[y : y + TILE_H, x : x + TILE_W]
        text = (
            "original photos"
            if slug is None
            else f"{processing.STYLES[slug].label} ({slug})"
        )
        text = text.replace(" (水墨)", "")  # Hershey fonts have no CJK glyphs
        row = np.hstack([*tiles, crop])
        rows.append(label(text, row.shape[1]))
        rows.append(row)
    grid = np.vstack(rows)
    out = ROOT / "docs" / "styles.jpg"
    out.write_bytes(processing.encode(grid, "jpeg", 80))
    print(
        f"wrote {out} ({grid.shape[1]}x{grid.shape[0]}, {out.stat().st_size // 1024} KB)"
    )


if __name__ == "__main__":
    main()
