"""Scale out: four worker processes share one database, one Redis and one
S3-compatible bucket (moto's server), as workers on four machines would.
100 small photos are each rendered exactly once, none is lost, and every
worker takes a share.

Runs against the database of the test run: PostgreSQL with
``DATABASE_URL=postgres://...`` (the deployment this models), or the SQLite
file of the default run (its IMMEDIATE transactions serialise the writers).
"""

from __future__ import annotations

import collections
import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image
from rq.job import Job

import processing
from gallery.models import Artwork
from gallery.services import Recipe, artworks_create
from tests.conftest import photo_array
from tests.faults.conftest import wait_for
from tests.site import test_s3

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The bucket fixtures of the S3 test: moto's server with IAM auth on.
s3_server = test_s3.s3_server
s3_settings = test_s3.s3_settings

WORKERS = 4
PHOTOS = 100


def _small_jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_array(160, 120, seed=seed)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_four_workers_share_one_database_redis_and_bucket(
    owner, studio, s3_settings, settings
):
    if connection.vendor not in ("postgresql", "sqlite"):
        pytest.skip(f"no shared database URL for {connection.vendor}")
    settings.STUDIO_MAX_UNFINISHED_PER_USER = PHOTOS
    workers = [studio.start_worker(**s3_settings["env"]) for _ in range(WORKERS)]
    names = {w.worker_name for w in workers}

    styles = list(processing.STYLES)
    started = time.monotonic()
    ids = []
    for seed in range(PHOTOS):
        data = _small_jpeg(seed)
        upload = SimpleUploadedFile(f"p{seed}.jpg", data, "image/jpeg")
        style = styles[seed % len(styles)]
        recipe = Recipe(style, processing.validate_params(style, {}))
        info = processing.inspect(data)
        ids += [a.pk for a in artworks_create(owner, upload, info, [recipe])]

    def all_finished() -> bool:
        return not Artwork.objects.filter(pk__in=ids).unfinished().exists()

    wait_for(all_finished, 240, f"{PHOTOS} artworks to finish", interval=0.5)
    elapsed = time.monotonic() - started

    artworks = list(Artwork.objects.filter(pk__in=ids))
    assert len(artworks) == PHOTOS
    assert {a.status for a in artworks} == {Artwork.Status.DONE}  # none lost
    assert {a.attempts for a in artworks} == {1}  # each rendered exactly once
    assert len({a.result.name for a in artworks}) == PHOTOS
    keys = {
        item["Key"]
        for page in s3_settings["client"]
        .get_paginator("list_objects_v2")
        .paginate(Bucket=test_s3.BUCKET)
        for item in page.get("Contents", [])
    }
    for folder in ("originals/", "results/", "thumbnails/", "previews/"):
        # One file per photo: no duplicate render left a file behind.
        assert sum(k.startswith(folder) for k in keys) == PHOTOS, folder

    connection_ = studio.queue.connection
    by_worker = collections.Counter(
        Job.fetch(a.job_id, connection=connection_).worker_name for a in artworks
    )
    print(f"\n{PHOTOS} photos in {elapsed:.1f} s; per worker: {dict(by_worker)}")
    assert set(by_worker) == names  # the work spread over every worker
    assert min(by_worker.values()) >= PHOTOS // (WORKERS * 4)
    assert all(w.poll() is None for w in workers)
