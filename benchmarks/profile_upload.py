"""Where an upload's time goes in the web process (not a test).

Posts the same photo-like JPEG (distinct bytes each time) to
``POST /api/artworks/`` through Django's test client in this process: the
whole request path (middleware, session, checks, storage, rows, enqueue)
without the network. Prints the median response time, the median time per
upload of the main steps (wall clock, wrapped around the functions) and the
SQL statements and Redis commands of one upload.

    .venv/bin/python -m artstudio_site.launcher with-redis -- \\
        .venv/bin/python benchmarks/profile_upload.py [--uploads 30] [--megapixels 2]

It uses a throw-away SQLite database and media folder; the queue and cache
Redis are the ones the settings name (``with-redis`` starts a private one).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def setup() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="studio-upload-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artstudio_site.settings")
    os.environ["STUDIO_VAR_DIR"] = str(tmp)
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ["STUDIO_UPLOAD_RATE"] = "1000000"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 10**6
    settings.STUDIO_MAX_QUEUE_DEPTH = 10**6
    # every upload goes onto the queue (no worker takes the jobs here)
    settings.STUDIO_QUEUE_SHARE = 10**6


def timed(owner, name: str, label: str, spent: dict) -> None:
    """Replace ``owner.name`` with a wrapper that adds its wall time to
    ``spent[label]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=30)
    parser.add_argument("--megapixels", type=float, default=2.0)
    args = parser.parse_args()
    setup()
    from bench_e2e import photo_jpeg
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.files.storage import Storage
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from gallery import limits, services
    from gallery.pipeline import dedup
    from gallery.pipeline import queue as render_queue
    from gallery.web import forms

    render_queue.get_queue().connection.flushdb()
    user = get_user_model().objects.create_user(f"upload{time.time_ns()}")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    photo = photo_jpeg(args.megapixels)

    def upload() -> None:
        image = SimpleUploadedFile("p.jpg", photo + uuid.uuid4().bytes, "image/jpeg")
        response = client.post("/api/artworks/", {"image": image, "style": "pencil"})
        if response.status_code != 202:
            raise SystemExit(f"upload: HTTP {response.status_code}: {response.content}")

    for _ in range(3):  # first requests: URLconf, templates, connections
        upload()
    spent: dict[str, float] = defaultdict(float)
    steps = [
        (forms.ArtworkRequestForm, "is_valid", "form (header check)"),
        (limits, "check_upload", "quota + queue checks (x2)"),
        (services, "_hash_upload", "sha256"),
        (Storage, "save", "storage write"),
        (dedup, "initial_fields", "dedup lookup"),
        (services, "_queue_artworks", "artwork rows"),
        (services, "enqueue_waiting", "enqueue (after commit)"),
        (services, "artworks_create", "artworks_create (all of it)"),
    ]
    for owner, name, label in steps:
        timed(owner, name, label, spent)
    times = []
    per_upload: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.uploads):
        spent.clear()
        started = time.perf_counter()
        upload()
        times.append(time.perf_counter() - started)
        for _owner, _name, label in steps:
            per_upload[label].append(spent[label])
    servers = {}  # the queue's and the cache's Redis, once each
    for redis in (render_queue.get_queue().connection, cache._cache.get_client()):
        kwargs = redis.connection_pool.connection_kwargs
        servers.setdefault((kwargs.get("path"), kwargs.get("port")), redis)

    def processed() -> int:
        return sum(
            c.info("stats")["total_commands_processed"] for c in servers.values()
        )

    commands_before = processed()
    with CaptureQueriesContext(connection) as queries:
        upload()
    # each INFO counts once, on its own server
    commands = processed() - commands_before - len(servers)
    print(
        f"{args.uploads} uploads of a {args.megapixels} MP JPEG ({len(photo) / 1e6:.2f} MB),"
        f" in-process; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"response: median {statistics.median(times) * 1000:.1f} ms\n")
    print(f"{'step (median per upload)':<34}{'ms':>8}")
    for _owner, _name, label in steps:
        print(f"{label:<34}{statistics.median(per_upload[label]) * 1000:>8.2f}")
    print(
        f"\none upload: {len(queries.captured_queries)} SQL statements; "
        f"{commands} Redis commands (queue and cache)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
