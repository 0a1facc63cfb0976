"""Upload-to-done time of one photo per style against a running studio.

Usage: start the studio (`make run`), then
    .venv/bin/python benchmarks/bench_e2e.py [--url http://127.0.0.1:8000] [--megapixels 2]

Signs up a throw-away user through the real pages, uploads the same
photo-like JPEG once per style through ``POST /api/artworks/`` (one style per
request, one after the other so the worker is idle each time), polls the
status endpoint every 50 ms and prints a table: upload response time and
upload-to-done time per style.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import io
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
from PIL import Image


def photo_jpeg(megapixels: float) -> bytes:
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([200 - 80 * y / height, 170 - 40 * y / height, 120 + 0 * x], -1)
    hills = (y > height * (0.55 + 0.08 * np.sin(x / width * 9)))[..., None]
    ground = np.stack(
        [40 + 30 * np.sin(x / 41), 120 + 40 * np.cos(y / 33), 60 + 0 * x], -1
    )
    image = np.where(hills, ground, sky)
    cx, cy = width * 0.7, height * 0.3
    sun = ((x - cx) ** 2 + (y - cy) ** 2) < (height * 0.08) ** 2
    image[sun] = (60, 210, 250)
    image += rng.normal(0, 8, image.shape)
    rgb = np.clip(image, 0, 255).astype(np.uint8)[..., ::-1]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Session:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def form(self, path: str, fields: dict) -> int:
        body = urllib.parse.urlencode(
            {**fields, "csrfmiddlewaretoken": self.csrf()}
        ).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": self.base + path,
        }
        return self.request("POST", path, body, headers)[0]

    def multipart(
        self, path: str, fields: list[tuple[str, str]], files: dict[str, bytes]
    ):
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        for name, data in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="photo.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRFToken": self.csrf(),
            "Referer": self.base + "/",
        }
        return self.request("POST", path, b"".join(parts), headers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="base URL of a running studio"
    )
    parser.add_argument(
        "--megapixels", type=float, default=2.0, help="size of the test photo"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="uploads per style (median is shown)"
    )
    args = parser.parse_args()

    session = Session(args.url)
    session.request("GET", "/accounts/signup/")
    username = f"bench{uuid.uuid4().hex[:8]}"
    password = "bench-" + uuid.uuid4().hex
    status = session.form(
        "/accounts/signup/",
        {"username": username, "password1": password, "password2": password},
    )
    if status not in (200, 302):
        print(f"sign-up failed with HTTP {status}", file=sys.stderr)
        return 1
    styles = [
        s["slug"]
        for s in json.loads(session.request("GET", "/api/styles/")[1])["styles"]
    ]
    photo = photo_jpeg(args.megapixels)
    print(
        f"photo: {args.megapixels} MP JPEG, {len(photo) / 1e6:.2f} MB; {args.runs} run(s) per style, medians\n"
    )
    print(f"{'style':<14}{'upload (ms)':>14}{'upload→done (s)':>18}")
    for style in styles:
        uploads, totals = [], []
        for _ in range(args.runs):
            # A different comment each run so the recipe cache cannot answer.
            data = photo + uuid.uuid4().bytes
            started = time.perf_counter()
            status, body = session.multipart(
                "/api/artworks/", [("style", style)], {"image": data}
            )
            uploaded = time.perf_counter()
            if status != 202:
                print(
                    f"{style}: upload failed with HTTP {status}: {body[:200]!r}",
                    file=sys.stderr,
                )
                return 1
            url = json.loads(body)["artworks"][0]["url"]
            while True:
                state = json.loads(session.request("GET", url)[1])
                if state["status"] in ("done", "failed"):
                    break
                if time.perf_counter() - started > 300:
                    print(f"{style}: not done after 300 s", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            if state["status"] != "done":
                print(f"{style}: failed: {state['error']}", file=sys.stderr)
                return 1
            uploads.append((uploaded - started) * 1000)
            totals.append(time.perf_counter() - started)
        print(
            f"{style:<14}{statistics.median(uploads):>14.0f}{statistics.median(totals):>18.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
