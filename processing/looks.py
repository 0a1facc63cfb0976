"""Style implementations (first version: OpenCV built-ins)."""

from __future__ import annotations

import cv2
import numpy as np


def _pad_small(image: np.ndarray, minimum: int = 3) -> tuple[np.ndarray, int, int]:
    h, w = image.shape[:2]
    ph, pw = max(0, minimum - h), max(0, minimum - w)
    if ph or pw:
        image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    return image, h, w


def pencil(image, sigma_s, sigma_r, shade_factor):
    src, h, w = _pad_small(image)
    gray, _ = cv2.pencilSketch(
        src, sigma_s=sigma_s, sigma_r=max(sigma_r, 1e-3), shade_factor=shade_factor
    )
    return cv2.cvtColor(gray[:h, :w], cv2.COLOR_GRAY2BGR)


def color_pencil(image, sigma_s, sigma_r, shade_factor):
    src, h, w = _pad_small(image)
    _, color = cv2.pencilSketch(
        src, sigma_s=sigma_s, sigma_r=max(sigma_r, 1e-3), shade_factor=shade_factor
    )
    return np.ascontiguousarray(color[:h, :w])


def oil(image, size, dyn_ratio):
    return cv2.xphoto.oilPainting(np.ascontiguousarray(image), size, dyn_ratio)


def watercolor(image, sigma_s, sigma_r):
    src, h, w = _pad_small(image)
    return np.ascontiguousarray(
        cv2.stylization(src, sigma_s=sigma_s, sigma_r=max(sigma_r, 1e-3))[:h, :w]
    )


def cartoon(image, sigma_s, sigma_r, levels, line_width, edge_threshold):
    src, h, w = _pad_small(image)
    smooth = cv2.ximgproc.dtFilter(
        src,
        src,
        max(sigma_s, 0.01),
        max(sigma_r, 1e-3) * 255,
        mode=cv2.ximgproc.DTF_RF,
        numIters=3,
    )
    step = 256 / levels
    flat = (np.floor(smooth / step) * step + step / 2).clip(0, 255).astype(np.uint8)
    gray = cv2.cvtColor(smooth, cv2.COLOR_BGR2GRAY)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    mag = cv2.magnitude(gx, gy) / (4 * 255)
    edges = (mag > edge_threshold * 0.5).astype(np.uint8)
    if line_width > 1:
        edges = cv2.dilate(edges, np.ones((line_width, line_width), np.uint8))
    if line_width > 0:
        flat[edges.astype(bool)] = flat[edges.astype(bool)] // 5
    return np.ascontiguousarray(flat[:h, :w])
