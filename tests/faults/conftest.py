"""Fault-test harness: a redis-server of our own on a free TCP port (so a
test can stop and restart it) and real rq worker processes
(``manage.py rqworker --worker-class gallery.pipeline.workers.StudioWorker``) that use
the test database and the test's media folder.

Every wait is bounded; every process started here is stopped at teardown.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.core.files.base import ContentFile
from django.db import connection
from PIL import Image

import processing
from artstudio_site.launcher import redis_server_binary
from gallery.models import Artwork, Photo
from gallery.pipeline.queue import get_queue, render_job_options
from tests.conftest import photo_array

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def database_url() -> str:
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        user = settings_dict.get("USER") or "postgres"
        password = settings_dict.get("PASSWORD")
        auth = f"{user}:{password}" if password else user
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"
    pytest.skip(f"fault tests do not know how to share a {connection.vendor} DB")


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, no persistence, restartable."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_for(answers, 10, "redis-server to start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Studio:
    """The fault tests' handle on Redis, workers and queue."""

    def __init__(self, redis_server: RedisServer, media_root: Path, tmp: Path):
        self.redis = redis_server
        self.media_root = media_root
        self.tmp = tmp
        self.workers: list[subprocess.Popen] = []

    @property
    def queue(self):
        return get_queue()

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("STUDIO_", "PYTEST_"))
            and key not in {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT"}
        }
        env.update(
            DATABASE_URL=database_url(),
            REDIS_URL=self.redis.url,
            MEDIA_ROOT=str(self.media_root),
            STUDIO_VAR_DIR=str(self.tmp / "worker-var"),
            STUDIO_JOB_MAX_ATTEMPTS="6",
            # As the launcher and compose start workers (launcher.worker_env).
            STUDIO_WORKER_ONLY="1",
            DJANGO_SETTINGS_MODULE="artstudio_site.settings",
        )
        env.update(extra)
        return env

    def start_worker(self, **extra: str) -> subprocess.Popen:
        name = f"fault-{uuid.uuid4().hex[:8]}"
        process = subprocess.Popen(
            [
                sys.executable, "manage.py", "rqworker", "default",
                "--worker-class", "gallery.pipeline.workers.StudioWorker",
                "--with-scheduler", "--name", name, "--verbosity", "0",
                "--skip-checks",
            ],
            cwd=REPO,
            env=self.worker_env(**extra),
        )  # fmt: skip
        process.worker_name = name
        self.workers.append(process)
        connection = self.queue.connection
        wait_for(
            lambda: connection.exists(f"rq:worker:{name}"), 30, "the worker to start"
        )
        return process

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def enqueue(self, func, artwork_id: int, *args, **overrides) -> str:
        """Enqueue ``func`` for an artwork exactly as enqueue_render does."""
        job_id = f"artwork-{artwork_id}-{uuid.uuid4().hex[:12]}"
        options = {**render_job_options(), **overrides}
        self.queue.enqueue(func, artwork_id, *args, job_id=job_id, **options)
        Artwork.objects.filter(pk=artwork_id).update(job_id=job_id)
        return job_id

    def wait_status(self, artwork_id: int, statuses, timeout: float) -> Artwork:
        def reached():
            artwork = Artwork.objects.get(pk=artwork_id)
            return artwork if artwork.status in statuses else None

        return wait_for(reached, timeout, f"artwork {artwork_id} to be {statuses}")

    def job_meta(self, job_id: str) -> dict:
        from rq.job import Job

        try:
            return Job.fetch(job_id, connection=self.queue.connection).get_meta()
        except Exception:
            return {}


def jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_array(width, height, seed=seed)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_artwork(owner, seed: int = 1, style: str = "pencil") -> Artwork:
    """A queued artwork with its original stored, and no job (the test
    enqueues what it needs)."""
    data = jpeg(seed)
    photo = Photo(
        owner=owner,
        original_name=f"photo-{seed}.jpg",
        format="JPEG",
        width=320,
        height=240,
        byte_size=len(data),
        content_hash=uuid.uuid4().hex,
    )
    photo.original.save("upload.jpg", ContentFile(data), save=False)
    photo.save()
    return Artwork.objects.create(
        photo=photo,
        owner=owner,
        style=style,
        params=processing.validate_params(style, {}),
        engine_version=processing.ENGINE_VERSION,
    )


@pytest.fixture
def studio(settings, media_root, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    settings.RQ_QUEUES = {
        settings.STUDIO_QUEUE: {
            "URL": f"{server.url}?socket_timeout=2&socket_connect_timeout=2",
            "DEFAULT_TIMEOUT": settings.STUDIO_JOB_TIMEOUT,
        }
    }
    settings.STUDIO_JOB_RETRY_DELAYS = [1]
    harness = Studio(server, media_root, tmp_path)
    try:
        yield harness
    finally:
        harness.stop_workers()
        server.stop()
