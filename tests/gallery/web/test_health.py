"""/healthz and /readyz."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from redis import Redis
from rq import Queue, Worker

from gallery.web import health


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_without_worker_is_503(client, queue):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["workers"] == {"ok": False, "count": 0}


@pytest.mark.django_db
def test_readyz_with_registered_worker_is_200(client, queue):
    worker = Worker([queue], connection=queue.connection, name="ready-probe")
    worker.register_birth()
    try:
        response = client.get("/readyz")
    finally:
        worker.register_death()
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["workers"]["count"] == 1


@pytest.mark.django_db
def test_readyz_with_redis_down_is_503_and_fast(client, monkeypatch):
    dead = Redis.from_url(
        "redis://127.0.0.1:9/0", socket_connect_timeout=1, socket_timeout=1
    )
    monkeypatch.setattr(health, "get_queue", lambda: Queue("default", connection=dead))
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


def test_readyz_details_only_for_the_operator(settings, queue):
    """The status is public; errors, queue depth and worker counts are not."""
    settings.STUDIO_READYZ_TOKEN = "operator-secret-token"
    public = Client(REMOTE_ADDR="203.0.113.9").get("/readyz")
    assert set(public.json()) == {"status"}
    # Through the proxy from this machine is not "local".
    proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert set(proxied.get("/readyz").json()) == {"status"}
    wrong = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert set(wrong.get("/readyz").json()) == {"status"}
    operator = Client(
        REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer operator-secret-token"
    )
    assert "checks" in operator.get("/readyz").json()
    local = Client(REMOTE_ADDR="127.0.0.1").get("/readyz").json()
    assert "workers" in local["checks"]
