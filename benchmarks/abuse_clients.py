"""The well-behaved side of `make bench-abuse` (benchmarks/bench_abuse.py):
members who sign in, upload 2 MP photos, poll them as the pages do, move the
editor's sliders (live previews) and browse.

Each client connects from a loopback address of its own (127.0.0.11, ...),
so that per-address limits see five people, as they would on the internet.
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from bench_e2e import Session
from PIL import Image

KINDS = ("upload", "status poll", "preview", "page", "thumbnail")
# Once per member and phase (a password hash): shown, too few for a p95 target.
SIGN_IN = "sign-in"
STYLES = ("pencil", "color_pencil", "oil", "watercolor", "cartoon")
# As the upload page does (static/js/editor.js): a status poll every second.
POLL_SECONDS = 1.0
# A slider moved every few seconds while the artwork renders: a preview.
PREVIEW_EVERY_POLLS = 3
# Connection-level failures: refused, reset, timed out, garbled answer.
NETWORK_ERRORS = (OSError, http.client.HTTPException)


@dataclass
class Stats:
    """What the well-behaved clients saw in one phase."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_errors: int = 0  # 5xx
    connection_errors: int = 0
    refused: int = 0  # 429 / 503 (honoured, not an error)
    other: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, started: float, status: int | None) -> None:
        elapsed = (time.monotonic() - started) * 1000
        with self.lock:
            if status is None:
                self.connection_errors += 1
                return
            self.latencies[kind].append(elapsed)
            if status >= 500 and status != 503:
                self.server_errors += 1
            elif status in (429, 503):
                self.refused += 1
            elif status >= 400:
                self.other[f"{kind} {status}"] += 1


class PhotoSupply:
    """Distinct photos handed out one at a time to any thread (no two
    uploads share bytes: dedup would finish them at once). It never runs
    dry: after the last one it hands the same photos out again with a JPEG
    comment segment that makes their bytes new (a supply that ran out left
    the members only browsing for the rest of the phase)."""

    def __init__(self, photos: list[bytes]):
        self.photos = photos
        self.taken = 0
        self.lock = threading.Lock()

    def take(self) -> bytes:
        with self.lock:
            index, self.taken = self.taken, self.taken + 1
        photo = self.photos[index % len(self.photos)]
        if index < len(self.photos):
            return photo
        comment = f"bench copy {index}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        return photo[:2] + segment + photo[2:]  # right after SOI


def sign_up(base: str, source: str, username: str, password: str) -> Session:
    session = Session(base, source)
    session.request("GET", "/accounts/signup/")
    fields = {"username": username, "password1": password, "password2": password}
    status = session.form("/accounts/signup/", fields)
    if status != 200 or not signed_in(session):
        raise SystemExit(f"sign-up of {username} from {source} failed: HTTP {status}")
    return session


def sign_in(base: str, source: str, username: str, password: str) -> Session:
    session = Session(base, source)
    session.request("GET", "/accounts/login/")
    session.form("/accounts/login/", {"username": username, "password": password})
    return session


def signed_in(session: Session) -> bool:
    return any(cookie.name == "sessionid" for cookie in session.jar)


def editor_image(photo: bytes) -> tuple[bytes, tuple[int, int]]:
    """The photo as the editor sends it for previews: scaled in the browser
    to a long side of 512 px; and the full size it stands for."""
    image = Image.open(io.BytesIO(photo))
    size = image.size
    image.thumbnail((512, 512))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue(), size


class Member:
    """One well-behaved member: upload, watch it finish while trying
    previews, then browse; again until the phase ends."""

    def __init__(self, base, source, username, password, photos, uploaded):
        self.base, self.source = base, source
        self.username, self.password = username, password
        self.photos = photos  # a PhotoSupply shared by the members
        self.uploaded = uploaded  # shared list of every accepted artwork URL
        self.rng = random.Random(source)

    def call(self, stats: Stats, kind: str, session: Session, method, path, **kw):
        started = time.monotonic()
        try:
            if "fields" in kw:
                status, body = session.multipart(path, kw["fields"], kw["files"])
            else:
                status, body = session.request(method, path)
        except NETWORK_ERRORS:
            stats.record(kind, started, None)
            return None, b""
        stats.record(kind, started, status)
        if status in (429, 503):
            time.sleep(2)  # Retry-After, roughly
        return status, body

    def run(self, stats: Stats, until: float) -> None:
        started = time.monotonic()
        session = sign_in(self.base, self.source, self.username, self.password)
        stats.record(SIGN_IN, started, 200 if signed_in(session) else 401)
        while time.monotonic() < until:
            photo = self.photos.take()
            url = self.upload(stats, session, photo)
            detail = self.watch(stats, session, url, photo, until) if url else None
            self.browse(stats, session, detail)

    def upload(self, stats, session, photo: bytes) -> str | None:
        fields = [("style", self.rng.choice(STYLES))]
        status, body = self.call(
            stats, "upload", session, "POST", "/api/artworks/",
            fields=fields, files={"image": photo},
        )  # fmt: skip
        if status != 202:
            return None
        url = json.loads(body)["artworks"][0]["url"]
        with stats.lock:
            self.uploaded.append((self.username, self.password, self.source, url))
        return url

    def watch(self, stats, session, url, photo, until) -> dict | None:
        """Poll until done (or the phase ends), now and then a preview."""
        small, full_size = editor_image(photo)
        answer = None
        for poll in itertools.count():
            if time.monotonic() >= until:
                return answer
            tick = time.monotonic()
            status, body = self.call(stats, "status poll", session, "GET", url)
            if status == 200:
                answer = json.loads(body)
                if answer["status"] in ("done", "failed"):
                    return answer
            if poll % PREVIEW_EVERY_POLLS == 0:
                self.preview(stats, session, small, full_size)
            time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - tick)))
        return answer

    def preview(self, stats, session, small: bytes, full_size) -> None:
        # A slider moved: a new recipe each time, so never a cache hit.
        params = json.dumps({"strength": round(self.rng.uniform(0.3, 1), 3)})
        fields = [
            ("style", self.rng.choice(STYLES)), ("params", params),
            ("source_width", str(full_size[0])), ("source_height", str(full_size[1])),
        ]  # fmt: skip
        self.call(
            stats, "preview", session, "POST", "/api/preview/",
            fields=fields, files={"image": small},
        )  # fmt: skip

    def browse(self, stats, session, detail: dict | None) -> None:
        pages = ["/explore/", "/gallery/"]
        if detail:
            pages.append(f"/artworks/{detail['id']}/")
        for path in pages:
            self.call(stats, "page", session, "GET", path)
        if detail and detail.get("thumbnail_url"):
            self.call(stats, "thumbnail", session, "GET", detail["thumbnail_url"])


def new_account(prefix: str) -> tuple[str, str]:
    return f"{prefix}{uuid.uuid4().hex[:8]}", "bench-" + uuid.uuid4().hex


def unfinished(base: str, uploaded: list, sessions: dict[str, Session]) -> list:
    """The entries of ``uploaded`` whose artwork is not done now (queued,
    processing, failed or gone), asked as their owners: each owner signs in
    once (``sessions`` is kept between calls) and a 429 is waited out, not
    counted (an earlier version signed in again on every call and took the
    rate limits' refusals for lost artworks)."""
    left = []
    for entry in uploaded:
        username, password, source, url = entry
        if username not in sessions:
            sessions[username] = sign_in(base, source, username, password)
        status, body = None, b""
        for _attempt in range(10):
            try:
                status, body = sessions[username].request("GET", url)
            except NETWORK_ERRORS:
                status, body = None, b""
            if status != 429:
                break
            time.sleep(1)
        if status != 200 or json.loads(body)["status"] != "done":
            left.append(entry)
    return left
