"""Peak memory of rendering one 12 MP photo, per style (a dev tool, not a test).

Each style runs in a fresh process of its own, so that no peak and no freed
heap carries over from one style to the next. In that process, as a render
job does (``gallery.pipeline.jobs._render``): import :mod:`processing`, warm
the style's kernels on a tiny image, decode a deterministic photo-like 12 MP
JPEG (``photo_jpeg`` of ``bench_e2e``; with ``--photo detailed``, one with
detail everywhere, where the stroke styles plan the most) with the
settings' pixel limits, give the freed heap back (``malloc_trim(0)``, as
``memory.release_heap``), reset the kernel's peak-RSS counter
(``/proc/self/clear_refs``) and read VmRSS (before); then render, encode
the JPEG result and make the thumbnail, and read VmHWM (peak). The input
is still held during the encode (the job drops it first), so an encoder's
transient counts on top of it here. Printed per style: before, peak and
delta (peak - before) in MB, the render's own seconds (best of
``--runs``, each later run after the measured one) and the sha256 of the
rendered array, to check that a memory change keeps the pixels.

    .venv/bin/python benchmarks/style_memory.py [--runs 2] [--photo detailed] [--given-up] [style ...]

With ``--given-up`` the photo is handed to ``render(consume=True)``, as a
job hands over a photo larger than 4 MP, and dropped before the encode.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_STYLES = (
    "pencil",
    "oil",
    "watercolor",
    "pointillism",
    "impressionist",
    "cartoon",
    "ink_wash",
)
MAX_PIXELS = 50_000_000  # STUDIO_MAX_PIXELS's default
WORK_PIXELS = 12_000_000  # STUDIO_WORK_PIXELS's default
RESULT_QUALITY = 92  # STUDIO_RESULT_QUALITY's default
THUMBNAIL_SIZE = 480  # STUDIO_THUMBNAIL_SIZE's default


def detailed_jpeg(megapixels: float) -> bytes:
    """A 4:3 JPEG with detail everywhere: random colours in 16-px blocks
    plus a little noise (as tests/processing/test_memory.py's photo). The
    stroke styles plan a stroke or dot per grid cell where the photo has
    detail, so their plans are largest on such a photo."""
    import cv2
    import numpy as np

    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (-(-height // 16), -(-width // 16), 3), np.uint8)
    image = np.repeat(np.repeat(small, 16, axis=0), 16, axis=1)[:height, :width]
    image += rng.integers(0, 8, image.shape, np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return data.tobytes()


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` size field (``VmRSS``, ``VmHWM``) in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(path: str, style: str, runs: int, given_up: bool = False) -> dict:
    """One style's figures, in this (fresh) process."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import processing

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    defaults = processing.STYLES[style].defaults()
    tiny = np.zeros((24, 32, 3), np.uint8)
    tiny[8:16, 10:20] = (40, 160, 220)
    warm = processing.render(tiny, style, **defaults)
    processing.encode(warm, "jpeg", RESULT_QUALITY)
    processing.make_thumbnail(warm, THUMBNAIL_SIZE)
    del warm

    data = Path(path).read_bytes()
    image = processing.decode(data, max_pixels=MAX_PIXELS, work_pixels=WORK_PIXELS)
    del data
    libc.malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    before = status_mb("VmRSS")
    start = time.perf_counter()
    rendered = processing.render(image, style, consume=given_up, **defaults)
    seconds = time.perf_counter() - start
    image_shape = image.shape
    if given_up:  # as the job: the photo is gone before the encode
        del image
    processing.encode(rendered, "jpeg", RESULT_QUALITY)
    processing.encode(processing.make_thumbnail(rendered, THUMBNAIL_SIZE), "jpeg", 85)
    peak = status_mb("VmHWM")
    # hashed in place (render returns a C-contiguous array): no 36 MB copy
    digest = hashlib.sha256(rendered.data).hexdigest()
    del rendered
    for _ in range(runs - 1):
        if given_up:
            image = processing.decode(
                Path(path).read_bytes(), max_pixels=MAX_PIXELS, work_pixels=WORK_PIXELS
            )
        start = time.perf_counter()
        processing.render(image, style, consume=given_up, **defaults)
        seconds = min(seconds, time.perf_counter() - start)
    return {
        "style": style,
        "shape": list(image_shape),
        "before": before,
        "peak": peak,
        "seconds": seconds,
        "sha256": digest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("styles", nargs="*", default=list(DEFAULT_STYLES))
    parser.add_argument("--runs", type=int, default=1, help="timed renders per style")
    parser.add_argument(
        "--photo",
        choices=("landscape", "detailed"),
        default="landscape",
        help="bench_e2e's smooth landscape, or detail everywhere (detailed_jpeg)",
    )
    parser.add_argument(
        "--given-up",
        action="store_true",
        help="render(consume=True), as a job renders a photo over 4 MP",
    )
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, style = args.child
        print(json.dumps(measure(path, style, max(1, args.runs), args.given_up)))
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_e2e import photo_jpeg

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp, "photo.jpg")
        make = photo_jpeg if args.photo == "landscape" else detailed_jpeg
        photo.write_bytes(make(12))
        print(
            f"load average {os.getloadavg()[0]:.2f}; 12 MP {args.photo} photo, "
            "one process each"
        )
        print(
            f"{'style':<14}{'before MB':>10}{'peak MB':>9}{'delta MB':>9}"
            f"{'render s':>9}  sha256 of the rendered array"
        )
        for style in args.styles:
            result = subprocess.run(
                [sys.executable, __file__, "--runs", str(args.runs)]
                + (["--given-up"] if args.given_up else [])
                + ["--child", str(photo), style],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{style:<14}{row['before']:>10.0f}{row['peak']:>9.0f}"
                f"{row['peak'] - row['before']:>9.0f}{row['seconds']:>9.2f}"
                f"  {row['sha256'][:16]}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
