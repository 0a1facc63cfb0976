"""Latency of the live preview endpoint, per style, on a 2 MP photo.

Run: ``.venv/bin/python benchmarks/bench_preview.py`` (``make bench-preview``).

Drives ``POST /api/preview/`` through Django's test client (form validation,
rate limit, cache, decode, render, encode: everything but the network), with
the cache cleared between requests unless stated, and parameters drawn at
random from each style's full range (so the slowest settings are included).
Three cases per style:

- ``first look``: the 2 MP JPEG itself is sent and nothing is cached (the
  worst case: a browser that cannot scale the photo down, e.g. HEIC);
- ``browser-scaled``: what the page sends, the photo already scaled to a long
  side of 512 px by the browser; nothing cached;
- ``slider move``: the small source is cached (as after the first preview),
  new parameters each time, no cached render.

The target is p95 < 300 ms for every style.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artstudio_site.settings")
# A throw-away var dir (SQLite file, no Redis needed): the preview path does
# not touch the queue, and the benchmark must not write into var/.
os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="bench-preview-"))
os.environ.setdefault("STUDIO_PREVIEW_RATE", "1000000")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    setup_test_environment,
)
from PIL import Image  # noqa: E402

import processing  # noqa: E402
from gallery import preview  # noqa: E402

TARGET_MS = 300


def photo_jpeg(width: int, height: int) -> bytes:
    """A photo-like 2 MP JPEG: gradients, shapes, texture and sensor noise."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 255 * x / width
    img[..., 1] = 255 * y / height
    img[..., 2] = 128 + 100 * np.sin(x / 37.0) * np.cos(y / 29.0)
    img[(x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (height * 0.2) ** 2] = (
        240,
        200,
        40,
    )
    img += rng.normal(0, 6, img.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=90
    )
    return buffer.getvalue()


def browser_scaled(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.thumbnail((preview.PREVIEW_LONG_SIDE, preview.PREVIEW_LONG_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def random_params(style: processing.Style, rng: random.Random) -> dict:
    params = {}
    for p in style.params:
        steps = round((p.max - p.min) / p.step)
        value = p.min + rng.randint(0, steps) * p.step
        params[p.name] = int(value) if p.type == "int" else round(value, 6)
    return params


def measure(client: Client, data: bytes, slug: str, runs: int, *, keep_source: bool):
    rng = random.Random(slug)
    style = processing.STYLES[slug]
    times = []
    for _ in range(runs):
        cache.clear()
        if keep_source:
            # Warm the small-source cache with one untimed request.
            client.post(
                "/api/preview/",
                {
                    "style": slug,
                    "image": SimpleUploadedFile("p.jpg", data, "image/jpeg"),
                },
            )
        params = random_params(style, rng)
        upload = SimpleUploadedFile("p.jpg", data, "image/jpeg")
        if keep_source:
            # Only the rendered preview is dropped; the source stays cached.
            key = preview.cache_key(
                hashlib.sha256(data).hexdigest(),
                slug,
                processing.validate_params(slug, params),
            )
            cache.delete(key)
        start = time.perf_counter()
        response = client.post(
            "/api/preview/",
            {"style": slug, "params": json.dumps(params), "image": upload},
        )
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:200]
        assert response["X-Preview-Cache"] == "miss"
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, times[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="requests per case")
    parser.add_argument(
        "--size",
        default="1732x1155",
        help="photo size WxH (default 1732x1155, 2.0 MP)",
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-preview")
    client = Client()
    client.force_login(user)
    full = photo_jpeg(width, height)
    small = browser_scaled(full)
    print(
        f"Preview latency, {width}x{height} ({width * height / 1e6:.1f} MP) JPEG, "
        f"{args.runs} requests per case, random parameters; milliseconds"
    )
    header = f"{'style':<14}{'case':<16}{'median':>8}{'p95':>8}{'max':>8}  target"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for slug in processing.STYLES:
        for case, data, keep in (
            ("first look", full, False),
            ("browser-scaled", small, False),
            ("slider move", full, True),
        ):
            median, p95, top = measure(client, data, slug, args.runs, keep_source=keep)
            worst = max(worst, p95)
            verdict = "ok" if p95 < TARGET_MS else "SLOW"
            print(f"{slug:<14}{case:<16}{median:8.1f}{p95:8.1f}{top:8.1f}  {verdict}")
    print(f"worst p95: {worst:.1f} ms (target < {TARGET_MS} ms)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
