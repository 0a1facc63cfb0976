"""Media serving under abuse: conversions are made once, and every client has
a budget of media requests and of conversions."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from gallery import services
from gallery.models import Artwork
from gallery.pipeline import jobs
from gallery.storage import conversions, files
from tests.conftest import create_artworks
from tests.gallery.media_rows import age_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def public_artwork(owner, queue, run_worker):
    (artwork,) = create_artworks(owner, ("pencil",))
    run_worker()
    artwork.refresh_from_db()
    services.artwork_set_public(artwork, True)
    return artwork


@pytest.fixture
def decodes(monkeypatch):
    """Count full-size decodes made to convert a result."""
    calls = []
    real = conversions.processing.decode

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(conversions.processing, "decode", counting)
    return calls


def _url(artwork: Artwork, fmt: str) -> str:
    url = reverse("gallery:artwork_media", args=[artwork.pk, "result"])
    return f"{url}?format={fmt}"


def _converted(client: Client, url: str, run_worker):
    """The first request queues the conversion (503, Retry-After); a worker
    makes it; the next request gets the file."""
    first = client.get(url)
    assert first.status_code == 503 and first["Retry-After"] == "2"
    run_worker()
    return client.get(url)


def test_a_conversion_is_made_once_by_a_worker_and_then_served_from_storage(
    public_artwork, decodes, run_worker
):
    """Every anonymous ?format=png re-decoded and re-encoded the full result:
    seconds of CPU for a hundred bytes in. Then the first request did it, in
    the web process, holding one of its workers for seconds (issue 11's
    benchmark: 2.8 s and 5.9 s under attack); now a worker does it, once."""
    anonymous = Client()
    url = _url(public_artwork, "png")
    first = anonymous.get(url)
    assert first.status_code == 503 and first["Retry-After"] == "2"
    assert "being prepared" in first.content.decode()
    # Asked again while it waits: not queued twice, not converted here.
    assert anonymous.get(url).status_code == 503
    assert decodes == []
    run_worker()
    assert len(decodes) == 1
    bodies = []
    for _ in range(3):
        response = anonymous.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        bodies.append(b"".join(response.streaming_content))
    assert len(decodes) == 1
    assert bodies[0] == bodies[1] == bodies[2] and bodies[0][:4] == b"\x89PNG"
    copy = files.converted_name(public_artwork.result.name, ".png")
    assert default_storage.exists(copy)


def test_the_page_script_asks_whether_the_copy_is_ready(public_artwork, run_worker):
    client = Client(HTTP_ACCEPT="application/json")
    url = _url(public_artwork, "webp") + "&prepare=1"
    waiting = client.get(url)
    assert waiting.status_code == 200
    assert waiting.json() == {"ready": False, "retry_after": 2}
    run_worker()
    ready = client.get(url)
    assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_conversions_wait_for_the_queue_when_redis_is_away(
    public_artwork, monkeypatch, decodes
):
    monkeypatch.setattr(services, "enqueue_conversion", lambda *a: False)
    response = Client(HTTP_ACCEPT="application/json").get(_url(public_artwork, "png"))
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "unavailable" in response.json()["error"] and decodes == []


def test_converted_copies_follow_their_result(
    public_artwork, owner_client, media_root, decodes, run_worker
):
    for fmt in ("png", "webp"):
        assert (
            _converted(Client(), _url(public_artwork, fmt), run_worker).status_code
            == 200
        )
    copies = files.converted_names(public_artwork.result.name)
    assert all(default_storage.exists(name) for name in copies)
    # The orphan sweep keeps a copy while its result is referenced...
    for name in copies:
        age_file(media_root, name, hours=48)
    call_command("cleanup_media", "--orphans", stdout=open("/dev/null", "w"))
    assert all(default_storage.exists(name) for name in copies)
    # ...and deleting the artwork takes the copies along.
    services.artwork_delete(public_artwork)
    assert not any(default_storage.exists(name) for name in copies)


def test_conversions_have_a_budget_per_client(
    public_artwork, settings, decodes, steady_rate_window, run_worker
):
    settings.STUDIO_CONVERT_RATE = 1
    client = Client(REMOTE_ADDR="198.51.100.5")
    assert (
        _converted(client, _url(public_artwork, "png"), run_worker).status_code == 200
    )
    # Served from storage: no budget needed.
    assert client.get(_url(public_artwork, "png")).status_code == 200
    refused = client.get(_url(public_artwork, "webp"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    run_worker()
    assert len(decodes) == 1


def test_media_requests_have_a_budget_per_client(
    public_artwork, settings, steady_rate_window
):
    settings.STUDIO_MEDIA_RATE = 3
    url = reverse("gallery:artwork_media", args=[public_artwork.pk, "thumbnail"])
    client = Client(REMOTE_ADDR="198.51.100.6")
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert client.get(url).status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.7").get(url).status_code == 200


def test_the_conversion_job_leaves_alone_what_it_cannot_convert(public_artwork):
    assert jobs.convert_result(public_artwork.pk, "bmp") == "no such format"
    assert jobs.convert_result(10**9, "png") == "no result"
    default_storage.delete(public_artwork.result.name)
    assert jobs.convert_result(public_artwork.pk, "png") == "result missing"
