"""Upload-to-done time of one photo per style, next to the engine's own time.

Usage: against a running studio (`make run`):
    .venv/bin/python benchmarks/bench_e2e.py [--url http://127.0.0.1:8000] [--megapixels 2]
or on a stack of its own, started as `make run` does (throw-away var dir):
    .venv/bin/python benchmarks/bench_e2e.py --start

Signs up a throw-away user through the real pages, uploads the same
photo-like JPEG once per style through ``POST /api/artworks/`` (one style per
request, one after the other so the worker is idle each time), polls the
status endpoint every 50 ms and prints a table: upload response time,
upload-to-done time, the engine-only time of the same photo and style
(decode, render, encode, thumbnail in this process, warm) and the ratio of
upload response + upload-to-done over engine-only (target <= 1.5); with
``--start``, also the time from the upload to the job's claim of the
artwork (``started_at``) and from the claim to done. Two untimed uploads
go first: a fresh stack's first job (its web processes still loading the
kernels in the background) is not an idle stack's.

Upload-to-done is the artwork's ``finished_at`` (read from the stack's
database, with ``--start``) less the moment the upload began, both on this
machine's clock; the time the 50 ms polls saw it is printed next to it (it
adds 25 ms on average, a third of a pencil sketch's engine time). Against
a stack given by ``--url`` only the polls' time is known, and used.
``--poll-ms`` sets the polls' interval (the pages poll every 1-1.5 s; at
500 ms the upload-to-done times were within the run-to-run noise of 50).

Then the web side alone: a 12 MP JPEG upload's response time against the
time to read its bytes and hash them (sha256) on this machine (target <=
2x), two ways: from a file, and over HTTP (the same multipart request to
``bare_upload.py``, a WSGI app that only receives the body and hashes it,
under gunicorn: the floor of any upload through this server and client).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.client
import http.cookiejar
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

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


class _SourceAddressHandler(urllib.request.HTTPHandler):
    """Connect from a given local address (e.g. 127.0.0.11): on loopback,
    each simulated client gets an address of its own."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def http_open(self, req):
        return self.do_open(
            functools.partial(
                http.client.HTTPConnection, source_address=(self.source, 0)
            ),
            req,
        )


class Session:
    def __init__(self, base: str, source: str | None = None):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        handlers: list = [urllib.request.HTTPCookieProcessor(self.jar)]
        if source:
            handlers.append(_SourceAddressHandler(source))
        self.opener = urllib.request.build_opener(*handlers)

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
            "Referer": self.base + "/",
        }
        if any(c.name == "csrftoken" for c in self.jar):
            headers["X-CSRFToken"] = self.csrf()
        return self.request("POST", path, b"".join(parts), headers)


def start_stack() -> tuple[subprocess.Popen, str, str]:
    """The stack as `make run` starts it, in a throw-away var folder; with
    the path of its database."""
    from bench_load import free_port, launch_stack

    var = Path(tempfile.mkdtemp(prefix="studio-bench-e2e-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}},
        "STUDIO_VAR_DIR": str(var),
        "PORT": str(free_port()),
        "GUNICORN_LOG_LEVEL": "warning",
        # one client uploads runs x 8 styles + 2 in a minute or two
        "STUDIO_UPLOAD_RATE": "100000",
    }
    stack, base = launch_stack(env)
    time.sleep(3)  # the worker warms its kernels before it takes jobs
    return stack, base, str(var / "db.sqlite3")


def started_at(database: str, artwork_id: int) -> float | None:
    """Epoch seconds of the artwork's ``started_at`` (its job's claim), from
    the stack's SQLite database."""
    import datetime
    import sqlite3

    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT started_at FROM gallery_artwork WHERE id = ?", (artwork_id,)
        ).fetchone()
    if not row or not row[0]:
        return None
    value = datetime.datetime.fromisoformat(row[0]).replace(tzinfo=datetime.UTC)
    return value.timestamp()


def upload_and_wait(
    session: Session,
    data: bytes,
    style: str,
    database: str = "",
    stages=None,
    poll: float = 0.05,
) -> tuple[float, float, float | None]:
    """(upload response, upload-to-done seen by the polls, upload-to-done by
    the artwork's finished_at or None without ``database``), in seconds.
    With ``database`` and a ``stages`` list, appends (upload to the job's
    claim, claim to done) in seconds."""
    from bench_load import finish_time

    started = time.perf_counter()
    started_epoch = time.time()
    status, body = session.multipart(
        "/api/artworks/", [("style", style)], {"image": data}
    )
    uploaded = time.perf_counter()
    if status != 202:
        raise SystemExit(f"{style}: upload failed with HTTP {status}: {body[:200]!r}")
    accepted = json.loads(body)["artworks"][0]
    url = accepted["url"]
    while True:
        state = json.loads(session.request("GET", url)[1])
        if state["status"] in ("done", "failed"):
            break
        if time.perf_counter() - started > 300:
            raise SystemExit(f"{style}: not done after 300 s")
        time.sleep(poll)
    polled = time.perf_counter() - started
    if state["status"] != "done":
        raise SystemExit(f"{style}: failed: {state['error']}")
    finished = finish_time(database, accepted["id"]) if database else None
    claimed = None
    if database and not database.startswith(("postgres://", "postgresql://")):
        claimed = started_at(database, accepted["id"])
    if stages is not None and finished is not None and claimed is not None:
        stages.append((claimed - started_epoch, finished - claimed))
    return (
        uploaded - started,
        polled,
        finished - started_epoch if finished is not None else None,
    )


def bare_upload_seconds(data: bytes, runs: int) -> float:
    """Median seconds of the same multipart upload to ``bare_upload.py``
    under gunicorn (one sync worker): receiving the bytes over HTTP and
    hashing them, nothing else."""
    from bench_load import PY, free_port, wait_http

    port = free_port()
    server = subprocess.Popen(
        # --config /dev/null: not the studio's gunicorn.conf.py (kernel
        # warm-up, access log), which gunicorn would find in the cwd
        [PY, "-m", "gunicorn", "--config", "/dev/null",
         "--chdir", str(Path(__file__).resolve().parent),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning",
         "bare_upload:application"],
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", 30)
        session = Session(base)
        times = []
        for _ in range(runs + 1):  # the first warms the connection path up
            started = time.perf_counter()
            status, _body = session.multipart(
                "/", [("style", "pencil")], {"image": data + uuid.uuid4().bytes}
            )
            times.append(time.perf_counter() - started)
            assert status == 202, status
        return statistics.median(times[1:])
    finally:
        server.terminate()
        server.wait(30)


def read_and_hash_seconds(data: bytes, runs: int = 5) -> float:
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            with open(handle.name, "rb") as source:
                hashlib.sha256(source.read()).hexdigest()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="base URL of a running studio"
    )
    parser.add_argument(
        "--start", action="store_true", help="start a stack of its own (make run)"
    )
    parser.add_argument(
        "--megapixels", type=float, default=2.0, help="size of the test photo"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="uploads per style (median is shown)"
    )
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=50,
        help="status poll interval while a photo renders (default 50)",
    )
    args = parser.parse_args()
    stack = None
    args.database = ""
    if args.start:
        stack, args.url, args.database = start_stack()
    try:
        return run(args)
    finally:
        if stack is not None:
            stack.send_signal(signal.SIGINT)
            stack.wait(60)


def run(args) -> int:
    from engine_only import engine_seconds

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
    # Untimed: the first job of a fresh stack (web processes still loading
    # the kernels in the background, the job process forked, first imports)
    # is not an idle stack's.
    for style in styles[:2]:
        upload_and_wait(session, photo + uuid.uuid4().bytes, style, args.database)
    print(
        f"photo: {args.megapixels} MP JPEG, {len(photo) / 1e6:.2f} MB; {args.runs} run(s) per style, medians; "
        f"load average {os.getloadavg()[0]:.2f}\n"
    )
    print(
        f"{'style':<14}{'upload (ms)':>12}{'upload→done (s)':>17}{'seen by polls (s)':>19}"
        f"{'engine only (s)':>17}{'(upload + done) / engine':>26}"
        f"{'to claim (ms)':>15}{'claim→done (ms)':>17}"
    )
    worst = 0.0
    for style in styles:
        uploads, totals, polled, stages = [], [], [], []
        for _ in range(args.runs):
            # A different comment each run so the recipe cache cannot answer.
            upload, seen, finished = upload_and_wait(
                session,
                photo + uuid.uuid4().bytes,
                style,
                args.database,
                stages,
                args.poll_ms / 1000,
            )
            uploads.append(upload)
            polled.append(seen)
            totals.append(seen if finished is None else finished)
        engine = engine_seconds(photo, style)
        upload, total = statistics.median(uploads), statistics.median(totals)
        # upload-to-done already contains the upload's own response time.
        ratio = total / engine
        worst = max(worst, ratio)
        print(
            f"{style:<14}{upload * 1000:>12.0f}{total:>17.3f}{statistics.median(polled):>19.3f}"
            f"{engine:>17.3f}{ratio:>26.2f}"
            + (
                f"{statistics.median(a for a, _ in stages) * 1000:>15.0f}"
                f"{statistics.median(b for _, b in stages) * 1000:>17.0f}"
                if stages
                else ""
            )
        )
    print(f"\nworst ratio {worst:.2f} (target <= 1.5)")

    big = photo_jpeg(12)
    baseline = read_and_hash_seconds(big)
    uploads = []
    for _ in range(args.runs):
        started = time.perf_counter()
        status, body = session.multipart(
            "/api/artworks/", [("style", "pencil")], {"image": big + uuid.uuid4().bytes}
        )
        uploads.append(time.perf_counter() - started)
        if status != 202:
            print(f"12 MP upload: HTTP {status}: {body[:200]!r}", file=sys.stderr)
            return 1
    upload = statistics.median(uploads)
    bare = bare_upload_seconds(big, max(args.runs, 5))
    print(
        f"\n12 MP JPEG upload ({len(big) / 1e6:.1f} MB): 202 in {upload * 1000:.0f} ms; "
        f"read + sha256 of its bytes {baseline * 1000:.1f} ms from a file, "
        f"{bare * 1000:.1f} ms over HTTP (bare_upload.py, the same server "
        f"and client); ratio {upload / baseline:.1f} / {upload / bare:.1f} "
        f"(target <= 2)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
