"""Speed, fidelity and memory of the processing engine.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (``make bench``).
Prints, per style and size: our median time, the OpenCV built-in's time in
the same run, the speed-up, PSNR and SSIM against the built-in, and the peak
RSS of a whole 12 MP job (decode JPEG, render, encode JPEG, thumbnail) in a
fresh subprocess. Images are synthesised deterministically (no downloads).

Above ~5.6 MP the photo module's NC filter corrupts its blue channel, so the
watercolour reference there is ``cv2.stylization`` run in overlapping row
bands below that size (same maths, no float32 index overflow).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import processing  # noqa: E402
from processing import looks  # noqa: E402

SIZES = {
    "0.5MP": (612, 816),
    "2MP": (1225, 1633),
    "12MP": (3000, 4000),
    "800x600": (600, 800),
    "1600x1200": (1200, 1600),
    "2000x1500": (1500, 2000),
}
NC_SAFE_PIXELS = 5_000_000


def photo_like(height: int, width: int, seed: int = 7) -> np.ndarray:
    """Deterministic photo-like image: sky gradient, hills, objects, texture."""
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    img = np.zeros((height, width, 3), np.float32)
    img[..., 0] = 235 - 90 * yy  # sky: blue
    img[..., 1] = 190 - 70 * yy
    img[..., 2] = 150 - 60 * yy
    horizon = 0.55 + 0.08 * np.sin(7 * xx + 1.3) + 0.04 * np.sin(23 * xx)
    ground = (yy > horizon).astype(np.float32)
    grass = np.stack([40 + 30 * yy, 110 + 40 * yy, 60 + 20 * yy], axis=-1)
    img = img * (1 - ground[..., None]) + grass * ground[..., None]
    scale = max(height, width)
    for _ in range(40):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(scale // 80 + 1, scale // 12 + 2))
        color = tuple(float(c) for c in rng.integers(20, 240, 3))
        if rng.random() < 0.6:
            cv2.circle(img, (cx, cy), r, color, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (cx, cy), (cx + r, cy + r // 2 + 1), color, -1)
    # fine texture (foliage/skin-like) + sensor noise, then a slight blur
    small = rng.normal(0, 12, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    img += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    img += rng.normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over channels, 11x11 Gaussian window (sigma 1.5)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for ch in range(a.shape[2] if a.ndim == 3 else 1):
        x = (a[..., ch] if a.ndim == 3 else a).astype(np.float32)
        y = (b[..., ch] if b.ndim == 3 else b).astype(np.float32)

        def blur(v):
            return cv2.GaussianBlur(v, (11, 11), 1.5)

        mx, my = blur(x), blur(y)
        sxx = blur(x * x) - mx * mx
        syy = blur(y * y) - my * my
        sxy = blur(x * y) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        scores.append(float(np.mean(num / den)))
    return float(np.mean(scores))


def timed(func, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def banded_stylization(img, sigma_s, sigma_r):
    h, w = img.shape[:2]
    overlap = looks._nc_reach(sigma_s) + 4
    core = max(64, NC_SAFE_PIXELS // w - 2 * overlap)
    out = np.empty_like(img)
    for a in range(0, h, core):
        b = min(h, a + core)
        a0, b0 = max(0, a - overlap), min(h, b + overlap)
        res = cv2.stylization(img[a0:b0], sigma_s=sigma_s, sigma_r=sigma_r)
        out[a:b] = res[a - a0 : a - a0 + (b - a)]
    return out


def builtin(style: str, img: np.ndarray):
    """(callable for timing, reference-image function) for a style."""
    if style == "watercolor":
        return lambda: cv2.stylization(img, sigma_s=60, sigma_r=0.45)
    if style in ("pencil", "color_pencil"):
        return lambda: cv2.pencilSketch(
            img, sigma_s=60, sigma_r=0.07, shade_factor=0.02
        )
    if style == "oil":
        return lambda: cv2.xphoto.oilPainting(img, 7, 1)
    return None


JOB_CODE = r"""
import resource, sys, time, json
sys.path.insert(0, sys.argv[1])
import processing
data = open(sys.argv[2], "rb").read()
start = time.perf_counter()
img = processing.decode(data)
out = processing.render(img, sys.argv[3])
payload = processing.encode(out, "jpeg", 90)
thumb = processing.make_thumbnail(out)
elapsed = time.perf_counter() - start
# ru_maxrss survives fork+exec (it would report the parent's size);
# VmHWM belongs to this process image only.
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024
except OSError:
    pass
print(json.dumps({"seconds": elapsed, "rss_mb": rss}))
"""


def whole_job(style: str, jpeg: Path) -> dict:
    # one warm-up process (Numba cache), then the measured one
    results = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", JOB_CODE, str(ROOT), str(jpeg), style],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(proc.stdout))
    return results[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-builtin-12mp", action="store_true")
    args = parser.parse_args()

    for style in processing.STYLES:  # compile / warm up
        processing.render(photo_like(40, 60), style)

    print(
        f"cores: {cv2.getNumThreads()} OpenCV threads; engine {processing.ENGINE_VERSION}"
    )
    header = f"{'style':<13}{'size':<11}{'ours s':>8}{'builtin s':>10}{'x faster':>9}{'PSNR dB':>9}{'SSIM':>7}"
    for style in processing.STYLES:
        print()
        print(header)
        for name in args.sizes:
            h, w = SIZES[name]
            img = photo_like(h, w)
            repeat = args.repeat if h * w < 5e6 else max(1, args.repeat - 1)
            if style == "pencil":
                # both outputs in one call, as the target counts them
                ours_t, (gray, color) = timed(
                    lambda img=img: looks.pencil_sketch(img, 60, 0.07, 0.02), repeat
                )
                ours = gray
            elif style == "color_pencil":
                ours_t, ours = timed(
                    lambda img=img, style=style: processing.render(img, style), repeat
                )
            else:
                ours_t, ours = timed(
                    lambda img=img, style=style: processing.render(img, style), repeat
                )
            ref_fn = builtin(style, img)
            big = h * w > 5e6
            if ref_fn is None or (big and args.no_builtin_12mp):
                print(
                    f"{style:<13}{name:<11}{ours_t:>8.3f}{'-':>10}{'-':>9}{'-':>9}{'-':>7}"
                )
                continue
            ref_t, ref = timed(ref_fn, 1)
            if style == "pencil":
                ref = cv2.cvtColor(ref[0], cv2.COLOR_GRAY2BGR)
            elif style == "color_pencil":
                ref = ref[1]
            if style == "watercolor" and h * w > NC_SAFE_PIXELS:
                ref = banded_stylization(img, 60, 0.45)
            p, s = psnr(ours, ref), ssim(ours, ref)
            print(
                f"{style:<13}{name:<11}{ours_t:>8.3f}{ref_t:>10.3f}"
                f"{ref_t / ours_t:>9.1f}{p:>9.1f}{s:>7.4f}"
            )

    print()
    print(
        "whole 12 MP job (decode JPEG q90, render, encode JPEG, thumbnail), fresh process"
    )
    print(f"{'style':<13}{'seconds':>9}{'peak RSS MB':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        jpeg = Path(tmp) / "photo.jpg"
        jpeg.write_bytes(processing.encode(photo_like(3000, 4000), "jpeg", 90))
        for style in processing.STYLES:
            r = whole_job(style, jpeg)
            print(f"{style:<13}{r['seconds']:>9.3f}{r['rss_mb']:>13.0f}")


if __name__ == "__main__":
    main()
