"""The pipeline under faults, with a real Redis and real worker processes."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from rq.exceptions import AbandonedJobError
from rq.job import Job, JobStatus
from rq.registry import clean_registries

from gallery import services
from gallery.models import Artwork
from gallery.pipeline import jobs
from gallery.pipeline.queue import enqueue_render
from tests.conftest import stored_files, upload_file
from tests.faults.conftest import jpeg, make_artwork, wait_for
from tests.faults.helpers import hang, render_after

pytestmark = pytest.mark.django_db(transaction=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_work_horse_is_retried_and_the_next_job_runs(owner, studio):
    studio.start_worker()
    victim = make_artwork(owner, seed=1)
    bystander = make_artwork(owner, seed=2, style="oil")
    job_id = studio.enqueue(render_after, victim.pk, 3)
    enqueue_render(bystander.pk)

    pid = wait_for(lambda: studio.job_meta(job_id).get("pid"), 30, "the horse pid")
    studio.wait_status(victim.pk, {Artwork.Status.PROCESSING}, 5)
    os.kill(pid, signal.SIGKILL)

    # The worker's handler put the row back to queued; RQ retried the job
    # (after STUDIO_JOB_RETRY_DELAYS) and it rendered; the other job ran.
    victim = studio.wait_status(victim.pk, {Artwork.Status.DONE}, 45)
    assert victim.result and victim.error == ""
    assert victim.attempts >= 2
    bystander = studio.wait_status(bystander.pk, {Artwork.Status.DONE}, 30)
    assert bystander.result


def test_whole_worker_killed_mid_job_is_recovered_by_the_sweeper(owner, studio):
    worker = studio.start_worker()
    artwork = make_artwork(owner, seed=3)
    job_id = studio.enqueue(render_after, artwork.pk, 60)
    horse = wait_for(lambda: studio.job_meta(job_id).get("pid"), 30, "the horse pid")
    studio.wait_status(artwork.pk, {Artwork.Status.PROCESSING}, 5)

    # Like a container killed by its memory limit: worker and horse both go,
    # no code of theirs runs.
    studio.kill(worker)
    os.kill(horse, signal.SIGKILL)
    wait_for(lambda: not _alive(horse) or None, 10, "the horse to die", 0.1)
    studio.start_worker()
    time.sleep(1)
    assert Artwork.objects.get(pk=artwork.pk).status == Artwork.Status.PROCESSING

    call_command("recover_jobs")  # what the scheduler loop runs every minute

    artwork = studio.wait_status(
        artwork.pk, {Artwork.Status.DONE, Artwork.Status.FAILED}, 45
    )
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert artwork.job_id != job_id


def test_uploads_while_redis_is_down_complete_once_it_is_back(
    owner_client, studio, media_root
):
    studio.redis.stop()
    created = []
    for seed in range(5):
        started = time.monotonic()
        response = owner_client.post(
            "/api/artworks/",
            {"image": upload_file(jpeg(10 + seed)), "style": ["pencil"]},
        )
        assert time.monotonic() - started < 3
        assert response.status_code == 202, response.content
        created += [a["id"] for a in response.json()["artworks"]]
    assert len(created) == 5
    for artwork in Artwork.objects.filter(pk__in=created):
        assert artwork.status == Artwork.Status.QUEUED and artwork.job_id == ""
    status = owner_client.get(reverse("gallery:api_artwork", args=[created[0]]))
    assert status.json()["stage"] == "waiting"

    studio.redis.start()
    call_command("recover_jobs")
    # The fair queue: the owner's share goes on, the rest as those finish.
    share = min(5, settings.STUDIO_QUEUE_SHARE)
    assert studio.queue.count == share
    call_command("recover_jobs")
    assert studio.queue.count == share  # live jobs are not enqueued twice
    studio.start_worker()
    for pk in created:
        studio.wait_status(pk, {Artwork.Status.DONE}, 60)

    artworks = Artwork.objects.filter(pk__in=created)
    assert all(a.attempts == 1 for a in artworks)  # each rendered exactly once
    assert len({a.result.name for a in artworks}) == 5
    results = [name for name in stored_files(media_root) if name.startswith("results")]
    assert len(results) == 5  # no duplicate renders left files behind
    call_command("recover_jobs")
    assert studio.queue.count == 0


def test_job_past_its_timeout_fails_and_the_worker_goes_on(owner, studio):
    studio.start_worker()
    stuck = make_artwork(owner, seed=4)
    nxt = make_artwork(owner, seed=5)
    studio.enqueue(hang, stuck.pk, job_timeout=2)  # the next one keeps 180 s
    enqueue_render(nxt.pk)

    stuck = studio.wait_status(stuck.pk, {Artwork.Status.FAILED}, 30)
    assert stuck.error == str(jobs.TIMEOUT_ERROR)
    assert studio.wait_status(nxt.pk, {Artwork.Status.DONE}, 30).result


def test_done_row_survives_registry_cleanup_far_in_the_future(owner, studio):
    studio.start_worker()
    artwork = make_artwork(owner, seed=6)
    job_id = enqueue_render(artwork.pk)
    done = studio.wait_status(artwork.pk, {Artwork.Status.DONE}, 30)
    studio.stop_workers()

    # RQ's bug: a finished job left in StartedJobRegistry is later "abandoned"
    # by cleanup, which runs its failure callback. Put it back there and run
    # every registry's cleanup with a timestamp far in the future.
    queue = studio.queue
    connection = queue.connection
    connection.zadd(queue.started_job_registry.key, {f"{job_id}:stale": 1})
    far_future = time.time() + 10 * 365 * 24 * 3600
    for registry in (
        queue.started_job_registry,
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
        queue.canceled_job_registry,
    ):
        registry.cleanup(far_future)
    clean_registries(queue)
    job = Job.fetch(job_id, connection=connection)
    assert job.get_status() == JobStatus.FAILED  # the callback really ran
    jobs.on_render_failure(
        job, connection, AbandonedJobError, AbandonedJobError(), None
    )
    call_command("recover_jobs")

    after = Artwork.objects.get(pk=artwork.pk)
    assert after.status == Artwork.Status.DONE and after.error == ""
    assert after.result.name == done.result.name
    assert queue.count == 0  # nothing re-enqueued


def test_backpressure_refuses_with_retry_after_and_creates_nothing(
    owner_client, owner, other, studio, settings, media_root
):
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 2
    settings.STUDIO_MAX_QUEUE_DEPTH = 3
    make_artwork(owner, seed=7)
    make_artwork(owner, seed=8)
    before_rows = Artwork.objects.count()
    before_files = stored_files(media_root)

    response = owner_client.post(
        "/api/artworks/", {"image": upload_file(jpeg(20)), "style": ["pencil"]}
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]
    page = owner_client.post(
        reverse("gallery:upload"), {"image": upload_file(jpeg(20)), "style": ["oil"]}
    )
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert "on their way" in page.content.decode()
    assert Artwork.objects.count() == before_rows
    assert stored_files(media_root) == before_files

    # The whole queue is full (another user's work): 503.
    make_artwork(other, seed=9)
    make_artwork(other, seed=10)
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 10
    before_rows = Artwork.objects.count()
    before_files = stored_files(media_root)
    response = owner_client.post(
        "/api/artworks/", {"image": upload_file(jpeg(21)), "style": ["pencil"]}
    )
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert Artwork.objects.count() == before_rows
    assert stored_files(media_root) == before_files


def test_identical_requests_render_once_and_survive_one_delete(
    owner_client, owner, studio, media_root
):
    studio.start_worker()
    data = jpeg(30)
    first = owner_client.post(
        "/api/artworks/", {"image": upload_file(data), "style": ["watercolor"]}
    ).json()["artworks"][0]["id"]
    first = studio.wait_status(first, {Artwork.Status.DONE}, 30)
    second = owner_client.post(
        "/api/artworks/", {"image": upload_file(data), "style": ["watercolor"]}
    ).json()["artworks"][0]["id"]
    second = Artwork.objects.get(pk=second)
    # Done at once, with the same files: no second render was queued.
    assert second.status == Artwork.Status.DONE
    assert second.recipe_key == first.recipe_key
    assert second.result.name == first.result.name
    assert studio.queue.count == 0
    results = [n for n in stored_files(media_root) if n.startswith("results/")]
    assert len(results) == 1

    for artwork in (first, second):
        body = owner_client.get(reverse("gallery:api_artwork", args=[artwork.pk]))
        shown = owner_client.get(body.json()["result_url"])
        assert shown.status_code == 200

    services.artwork_delete(first)
    body = owner_client.get(reverse("gallery:api_artwork", args=[second.pk])).json()
    shown = owner_client.get(body["result_url"])
    assert shown.status_code == 200
    assert b"".join(shown.streaming_content)[:2] == b"\xff\xd8"
