"""Shared fixtures: two users, images made in memory, an isolated media
folder, the real Redis queue (flushed per test) and a real rq worker."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rq import SimpleWorker

import processing
from gallery.pipeline.queue import get_queue
from gallery.services import Recipe, artworks_create

PASSWORD = "a-long-test-password-42"


def photo_array(width: int = 320, height: int = 240, seed: int = 1) -> np.ndarray:
    """A photo-like RGB image: gradients, shapes and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[..., 0] = 255 * x / max(width - 1, 1)
    image[..., 1] = 255 * y / max(height - 1, 1)
    image[..., 2] = 128 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0)
    cx, cy, r = width * 0.6, height * 0.4, min(width, height) * 0.25
    image[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = (240, 200, 40)
    image[int(height * 0.7) :, : int(width * 0.3)] = (30, 60, 150)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def image_bytes(
    fmt: str = "JPEG", width: int = 320, height: int = 240, **save_args
) -> bytes:
    image = Image.fromarray(photo_array(width, height))
    if fmt == "PNG" and save_args.pop("alpha", False):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def upload_file(
    data: bytes | None = None, name: str = "photo.jpg", content_type: str = "image/jpeg"
):
    return SimpleUploadedFile(
        name, data if data is not None else image_bytes(), content_type
    )


def create_artworks(owner, styles=("pencil",), data=None):
    """Upload ``data`` (the generated photo by default) through the service
    with each style's default parameters, as the upload view does; the rows
    are returned fresh (the job id is recorded after the commit)."""
    upload = upload_file(data)
    recipes = [Recipe(s, processing.validate_params(s, {})) for s in styles]
    artworks = artworks_create(owner, upload, processing.inspect(upload), recipes)
    for artwork in artworks:
        artwork.refresh_from_db()
    return artworks


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes media to its own folder."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    return root


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Per-user rate-limit counters live in Redis and user ids are reused
    between tests: start every test with empty budgets."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match="*rate:*", count=1000):
        client.delete(key)
    yield


@pytest.fixture
def steady_rate_window():
    """Rate limits count in fixed one-minute windows: a test that makes N
    requests and expects the (N+1)th refused must not straddle a window's
    end. Start it early in a fresh minute."""
    import time

    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)


@pytest.fixture
def queue():
    """The real render queue on the real Redis, emptied before the test."""
    q = get_queue()
    q.connection.flushdb()
    yield q
    q.connection.flushdb()


@pytest.fixture
def run_worker(queue):
    """Run a real rq worker in burst mode until the queue is empty."""

    def run() -> None:
        SimpleWorker([queue], connection=queue.connection).work(
            burst=True, logging_level="WARNING"
        )

    return run


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("ada", password=PASSWORD)


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def other_client(owner, other):
    from django.test import Client

    c = Client()
    c.force_login(other)
    return c


def stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
