"""The job pipeline in one process: retries only for transient faults, dedup
of identical recipes, progress with queue position and ETA, readiness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker, Worker
from rq.job import Job, JobStatus

import processing
from gallery import services
from gallery.models import Artwork
from gallery.pipeline import jobs
from gallery.pipeline.queue import enqueue_render
from gallery.services import Recipe
from tests.conftest import create_artworks, image_bytes, stored_files, upload_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def immediate_retries(settings):
    settings.STUDIO_JOB_RETRY_DELAYS = [0]  # a burst worker runs them at once


def _flaky(monkeypatch, failures: int, exc: BaseException):
    calls = {"n": 0}
    real = processing.decode

    def decode(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(processing, "decode", decode)
    return calls


def test_transient_fault_is_retried_and_completes(
    owner, queue, run_worker, monkeypatch
):
    calls = _flaky(monkeypatch, 1, ConnectionError("storage went away"))
    (artwork,) = create_artworks(owner)
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert artwork.attempts == 2 and calls["n"] == 2


def test_transient_fault_gives_up_after_the_retries(
    owner, queue, run_worker, monkeypatch, settings
):
    settings.STUDIO_JOB_RETRIES = 2
    calls = _flaky(monkeypatch, 99, ConnectionError("storage went away"))
    (artwork,) = create_artworks(owner)
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED
    assert artwork.error == str(jobs.TRANSIENT_GAVE_UP)
    assert calls["n"] == 3  # the first try and two retries


def test_bad_image_fails_once_without_retry(owner, queue, run_worker):
    (artwork,) = create_artworks(owner)
    with artwork.photo.original.open("wb") as fh:
        fh.write(b"not an image any more")
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED and artwork.attempts == 1
    assert artwork.error and "Traceback" not in artwork.error
    assert queue.count == 0 and queue.scheduled_job_registry.count == 0


def test_bug_fails_once_with_a_plain_reason(owner, queue, run_worker, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(processing, "render", broken)
    (artwork,) = create_artworks(owner)
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.FAILED and artwork.attempts == 1
    assert artwork.error == str(jobs.UNEXPECTED_ERROR)
    job = Job.fetch(artwork.job_id, connection=queue.connection)
    assert job.get_status() == JobStatus.FAILED and not job.retries_left


def test_late_failure_callback_of_an_old_job_leaves_the_row_alone(owner, queue):
    (artwork,) = create_artworks(owner)
    old = Job.fetch(artwork.job_id, connection=queue.connection)
    new_id = enqueue_render(artwork.pk)  # e.g. the sweeper re-enqueued
    assert jobs.claim(artwork.pk, new_id)
    jobs.on_render_failure(old, queue.connection, RuntimeError, RuntimeError(), None)
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.PROCESSING and artwork.job_id == new_id
    assert jobs.render_artwork(artwork.pk) == "done"


def test_same_recipe_queued_twice_renders_once(owner, queue, run_worker, media_root):
    data = image_bytes(width=360, height=240)
    (first,) = create_artworks(owner, styles=("cartoon",), data=data)
    (second,) = create_artworks(owner, styles=("cartoon",), data=data)
    assert first.recipe_key == second.recipe_key and len(first.recipe_key) == 64
    assert queue.count == 2  # neither was done when the other was created
    run_worker()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Artwork.Status.DONE
    assert first.result.name == second.result.name
    assert len([n for n in stored_files(media_root) if n.startswith("results/")]) == 1


def test_different_parameters_are_different_recipes(owner, queue):
    data = image_bytes()
    (a,) = create_artworks(owner, styles=("oil",), data=data)
    upload = upload_file(data)
    size = processing.validate_params("oil", {})["size"] + 2
    recipe = Recipe("oil", processing.validate_params("oil", {"size": size}))
    (b,) = services.artworks_create(owner, upload, processing.inspect(upload), [recipe])
    assert a.recipe_key != b.recipe_key


def test_status_json_has_queue_position_and_eta(owner_client, owner, queue):
    artworks = create_artworks(owner, styles=("pencil", "oil"))
    waiting = Artwork.objects.create(
        photo=artworks[0].photo,
        owner=owner,
        style="cartoon",
        params=processing.validate_params("cartoon", {}),
        engine_version=processing.ENGINE_VERSION,
    )
    bodies = [
        owner_client.get(reverse("gallery:api_artwork", args=[a.pk])).json()
        for a in (*artworks, waiting)
    ]
    assert [b["queue_position"] for b in bodies] == [1, 2, None]
    assert all(isinstance(b["eta_seconds"], int) for b in bodies[:2])
    assert bodies[0]["eta_seconds"] <= bodies[1]["eta_seconds"]
    # Waiting its turn (the fair queue): no place in the queue yet, but an
    # estimate from the owner's artworks ahead of it.
    assert bodies[2]["stage"] == "waiting"
    assert bodies[2]["eta_seconds"] >= bodies[1]["eta_seconds"]


def test_processing_status_reports_stage_from_job_meta(owner_client, owner, queue):
    (artwork,) = create_artworks(owner)
    job = Job.fetch(artwork.job_id, connection=queue.connection)
    job.meta.update(stage="rendering", progress=40)
    job.save_meta()
    jobs.claim(artwork.pk, artwork.job_id)
    body = owner_client.get(reverse("gallery:api_artwork", args=[artwork.pk])).json()
    assert (body["stage"], body["progress"], body["queue_position"]) == (
        "rendering",
        40,
        0,
    )
    assert body["eta_seconds"] >= 1


def test_readyz_reports_every_check(client, owner, queue, settings):
    worker = Worker([queue], connection=queue.connection, name="ready-pipeline")
    worker.register_birth()
    try:
        body = client.get("/readyz").json()
        assert body["status"] == "ok", body
        checks = body["checks"]
        assert checks["workers"]["count"] == 1
        assert checks["queue"]["depth"] == 0
        assert checks["oldest_queued"]["age_seconds"] is None
        assert checks["media_disk"]["free_mb"] > 0

        (artwork,) = create_artworks(owner)
        Artwork.objects.filter(pk=artwork.pk).update(
            queued_at=timezone.now() - timedelta(hours=2)
        )
        response = client.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["queue"]["depth"] == 1
        assert checks["oldest_queued"]["ok"] is False
        assert checks["oldest_queued"]["age_seconds"] >= 7200

        settings.STUDIO_READY_MAX_QUEUE_AGE = 10**6
        settings.STUDIO_READY_MIN_FREE_MB = 10**12
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["media_disk"]["ok"] is False
    finally:
        worker.register_death()


def test_worker_without_recent_heartbeat_does_not_count(client, queue):
    worker = Worker([queue], connection=queue.connection, name="stale-pipeline")
    worker.register_birth()
    try:
        queue.connection.hset(
            worker.key,
            "last_heartbeat",
            (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["workers"] == {"ok": False, "count": 0}
    finally:
        worker.register_death()


def test_recover_jobs_requeues_row_whose_job_ended(owner, queue, run_worker):
    (artwork,) = create_artworks(owner)
    Job.fetch(artwork.job_id, connection=queue.connection).cancel()
    jobs.claim(artwork.pk, artwork.job_id)  # the row says processing, job is gone
    call_command("recover_jobs")
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.QUEUED and queue.count == 1
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE


def test_readyz_disk_check_before_the_first_upload(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "not-created-yet" / "media"
    checks = client.get("/readyz").json()["checks"]
    assert checks["media_disk"]["ok"] is True and checks["media_disk"]["free_mb"] > 0


def test_dedup_never_reveals_another_users_upload(
    owner, other, queue, run_worker, media_root
):
    data = image_bytes(width=200, height=150)
    (first,) = create_artworks(owner, data=data)
    run_worker()
    (twin,) = create_artworks(other, data=data)
    # Not answered "done" at once: that would tell the other user that
    # someone already uploaded this very photo.
    assert twin.status == Artwork.Status.QUEUED
    run_worker()
    twin.refresh_from_db()
    first.refresh_from_db()
    assert twin.status == Artwork.Status.DONE
    assert twin.result.name != first.result.name
    # The owner's own repeat is still answered from the finished render.
    (again,) = create_artworks(owner, data=data)
    assert again.status == Artwork.Status.DONE
    assert again.result.name == first.result.name


def test_one_users_backlog_does_not_hold_up_another_users_first_artwork(
    owner, other, queue, settings
):
    """Issue 11, item 8: 25 accounts x 20 artworks filled the queue and
    everyone else waited behind them. Raise the first user's cap to 200, fill
    it, and a second user's upload finishes within a few job lengths while
    the first user's backlog is still there."""
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 200
    styles = tuple(processing.STYLES)
    data = image_bytes(width=48, height=32)
    backlog = []
    while len(backlog) < 200:
        backlog += create_artworks(owner, styles=styles, data=data)
    assert queue.count == settings.STUDIO_QUEUE_SHARE  # the rest wait
    (mine,) = create_artworks(other, styles=("pencil",), data=data)
    worker = SimpleWorker([queue], connection=queue.connection)
    jobs_run = 0
    while Artwork.objects.get(pk=mine.pk).status != Artwork.Status.DONE:
        assert worker.work(burst=True, max_jobs=1, logging_level="WARNING")
        jobs_run += 1
        assert jobs_run <= settings.STUDIO_QUEUE_SHARE + 1
    still_waiting = Artwork.objects.filter(owner=owner).unfinished().count()
    assert still_waiting >= len(backlog) - settings.STUDIO_QUEUE_SHARE - 1
    # The backlog goes on, a share at a time, as each one ends.
    waiting = Artwork.objects.filter(
        owner=owner, status=Artwork.Status.QUEUED, job_id=""
    )
    assert waiting.count() == still_waiting - settings.STUDIO_QUEUE_SHARE
    assert queue.count == settings.STUDIO_QUEUE_SHARE


def test_a_job_end_with_nothing_waiting_costs_one_query(
    owner, queue, django_assert_num_queries
):
    """release_next runs after every job; most often nothing of the owner's
    waits, and then the share is not counted."""
    from gallery.pipeline.queue import enqueue_waiting

    (artwork,) = create_artworks(owner, styles=("pencil",))
    assert artwork.job_id  # on the queue, nothing waiting behind it
    with django_assert_num_queries(1):
        assert enqueue_waiting(owner.pk) == []


def test_a_waiting_artworks_eta_counts_the_queue_ahead_of_it(
    owner_client, owner, other, queue, settings
):
    """An artwork waiting its owner's turn goes onto the queue behind every
    job already there: its ETA said "a job or two" while a site-wide queue
    of minutes was ahead, and the pages polled it every 1-2 s meanwhile."""
    from gallery.pipeline.progress import recent_job_seconds

    settings.STUDIO_QUEUE_SHARE = 10
    create_artworks(other, styles=tuple(processing.STYLES)[:6])
    settings.STUDIO_QUEUE_SHARE = 1
    mine = create_artworks(owner, styles=("pencil", "oil"))
    assert queue.count == 7
    bodies = [
        owner_client.get(reverse("gallery:api_artwork", args=[a.pk])).json()
        for a in mine
    ]
    assert [b["stage"] for b in bodies] == ["queued", "waiting"]
    per_job = recent_job_seconds()
    assert bodies[0]["queue_position"] == 7
    # no live worker here: one at a time; 7 jobs on the queue, then this one
    assert bodies[1]["eta_seconds"] == round(per_job * 8)
    assert bodies[1]["eta_seconds"] > bodies[0]["eta_seconds"]
