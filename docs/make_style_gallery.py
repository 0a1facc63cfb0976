"""Render docs/styles.jpg: one photo-like scene in every style, for the README.

    .venv/bin/python docs/make_style_gallery.py

The scene is the benchmark's procedural photograph (benchmarks/bench_engine.py),
so the picture shows exactly what the engine does, at default parameters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import processing  # noqa: E402
from benchmarks.bench_engine import photo_like  # noqa: E402

TILE_W, TILE_H = 480, 360


def main() -> None:
    scene = photo_like(TILE_H * 2, TILE_W * 2)
    tiles = [("original photo", scene)]
    for slug, style in processing.STYLES.items():
        tiles.append((f"{style.label} ({slug})", processing.render(scene, slug)))
    rows = []
    for start in range(0, len(tiles), 3):
        row = []
        for label, image in tiles[start : start + 3]:
            tile = cv2.resize(image, (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)
            cv2.rectangle(tile, (0, TILE_H - 30), (TILE_W, TILE_H), (255, 255, 255), -1)
            cv2.putText(
                tile, label, (10, TILE_H - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 30), 1,
                cv2.LINE_AA,
            )  # fmt: skip
            row.append(tile)
        rows.append(np.hstack(row))
    grid = np.vstack(rows)
    out = ROOT / "docs" / "styles.jpg"
    out.write_bytes(processing.encode(grid, "jpeg", 85))
    print(f"wrote {out} ({grid.shape[1]}x{grid.shape[0]})")


if __name__ == "__main__":
    main()
