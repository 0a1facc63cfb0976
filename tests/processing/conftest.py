"""Fixtures for the processing tests: synthetic, deterministic photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Photo-like BGR uint8 image: gradients, shapes, texture and noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 200 * y + 40 * x  # sky-like blue gradient
    img[..., 1] = 120 + 80 * np.sin(6 * x + 3 * y)
    img[..., 2] = 60 + 150 * x * (1 - y)
    scale = max(height, width)
    for _ in range(12):
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        radius = int(rng.integers(scale // 30 + 1, scale // 6 + 2))
        color = tuple(float(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.circle(img, (int(cx), int(cy)), radius, color, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(
                img,
                (int(cx), int(cy)),
                (int(cx + radius), int(cy + radius // 2 + 1)),
                color,
                -1,
            )
    img += rng.normal(0.0, 6.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def photo():
    """Factory: ``photo(height, width, seed=0)`` -> BGR uint8 image."""
    return synthetic_photo
