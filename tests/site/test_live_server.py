"""The real server: gunicorn with 3 sync workers on loopback, production
settings. Headers, cookie flags, the body cap over a real socket (declared
and chunked 200 MB bodies) and the upload rate limit shared by all workers
through Redis."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.db import connection

from tests.conftest import PASSWORD, image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
UPLOAD_RATE = 6
MAX_UPLOAD = 8 * 1024 * 1024
TWO_HUNDRED_MB = 200 * 1024 * 1024


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.fixture
def live(tmp_path, django_user_model, queue):
    django_user_model.objects.create_user("ada", password=PASSWORD)
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(tmp_path / "media"),
        # Production mode over plain HTTP on loopback, as `make run` runs.
        "STUDIO_HTTPS": "0",
        "STUDIO_UPLOAD_RATE": str(UPLOAD_RATE),
        "STUDIO_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        # The upload endpoints take bodies up to the video cap: keep it small
        # so that the 200 MB bodies below are over it.
        "STUDIO_MAX_VIDEO_BYTES": str(2 * MAX_UPLOAD),
        "STUDIO_MAX_UNFINISHED_PER_USER": "1000",
        "STUDIO_MAX_QUEUE_DEPTH": "1000",
        "WEB_CONCURRENCY": str(WORKERS),
    }
    env.pop("STUDIO_PROXY_SSL_HEADER", None)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "artstudio_site.wsgi:application",
            "--config", "gunicorn.conf.py",
            "--bind", f"127.0.0.1:{port}",
            "--access-logfile", str(access_log),
            "--access-logformat", "%(p)s %(m)s %(U)s %(s)s",
            "--error-logfile", str(tmp_path / "error.log"),
        ],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "error.log").read_text())
            time.sleep(0.2)
        while len(_children(server.pid)) < WORKERS:
            time.sleep(0.1)
        yield {
            "base": base,
            "port": port,
            "pid": server.pid,
            "access_log": access_log,
        }
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _cookie_flags(response: requests.Response, name: str) -> str:
    for header in response.raw.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie in {response.headers}")


def _sign_in(base: str) -> tuple[str, str]:
    """Sign in; return (Cookie header, CSRF token), sent by hand."""
    form = requests.get(base + "/accounts/login/", timeout=10)
    csrf_cookie = _cookie_flags(form, "csrftoken")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    csrf = csrf_cookie.split(";")[0]
    response = requests.post(
        base + "/accounts/login/",
        data={"username": "ada", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Cookie": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    session = _cookie_flags(response, "sessionid")
    for flags in (csrf_cookie, session):
        lowered = flags.lower()
        assert "; httponly" in lowered, flags
        assert "samesite=lax" in lowered, flags
        # Plain HTTP (STUDIO_HTTPS off): a Secure cookie would never come
        # back. tests/site/test_security_deploy.py checks them with HTTPS.
        assert "; secure" not in lowered, flags
    new_csrf = _cookie_flags(response, "csrftoken").split(";")[0]
    return f"{session.split(';')[0]}; {new_csrf}", new_csrf.split("=", 1)[1]


def test_headers_on_the_real_server(live):
    response = requests.get(live["base"] + "/", timeout=10)
    assert response.status_code == 200
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # plain HTTP
    spoofed = requests.get(
        live["base"] + "/", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert "Strict-Transport-Security" not in spoofed.headers


def _raw_post(port: int, cookie: str, csrf: str, headers: str, body_sender=None):
    """POST over a raw socket; return (status line, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sent = 0
    stop = threading.Event()
    head = (
        "POST /api/artworks/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {cookie}\r\nX-CSRFToken: {csrf}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n" + headers + "\r\n"
    ).encode()
    sock.sendall(head)

    def send_body():
        nonlocal sent
        chunk = b"x" * (1024 * 1024)
        try:
            while not stop.is_set() and sent < TWO_HUNDRED_MB:
                sock.sendall(body_sender(chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server stopped reading and closed: expected

    sender = threading.Thread(target=send_body, daemon=True)
    if body_sender:
        sender.start()
    started = time.monotonic()
    reply = b""
    while b"\r\n" not in reply:
        data = sock.recv(65536)
        if not data:
            break
        reply += data
    elapsed = time.monotonic() - started
    stop.set()
    sock.close()
    sender.join(10) if body_sender else None
    return reply.split(b"\r\n", 1)[0].decode(), sent, elapsed


def test_body_cap_over_a_real_socket(live):
    cookie, csrf = _sign_in(live["base"])
    workers_before = _children(live["pid"])
    status, sent, elapsed = _raw_post(
        live["port"], cookie, csrf, f"Content-Length: {TWO_HUNDRED_MB}\r\n"
    )
    assert status.startswith("HTTP/1.1 413"), status
    assert sent == 0 and elapsed < 5
    status, sent, elapsed = _raw_post(
        live["port"],
        cookie,
        csrf,
        "Transfer-Encoding: chunked\r\n",
        body_sender=lambda chunk: b"%x\r\n%s\r\n" % (len(chunk), chunk),
    )
    assert status.startswith("HTTP/1.1 413"), status
    # Refused once the cap was passed, long before 200 MB.
    assert sent < TWO_HUNDRED_MB / 2, sent
    # The same worker processes are still serving.
    assert _children(live["pid"]) == workers_before
    assert requests.get(live["base"] + "/healthz", timeout=5).status_code == 200


def test_upload_rate_limit_holds_across_workers(live):
    cookie, csrf = _sign_in(live["base"])
    photo = image_bytes(width=64, height=48)

    def upload(_):
        response = requests.post(
            live["base"] + "/api/artworks/",
            data={"style": "pencil"},
            files={"image": ("p.jpg", photo, "image/jpeg")},
            headers={"Cookie": cookie, "X-CSRFToken": csrf, "Connection": "close"},
            timeout=30,
        )
        return response.status_code, response.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(upload, range(UPLOAD_RATE * 2)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [202] * UPLOAD_RATE + [429] * UPLOAD_RATE, results
    assert all(retry for status, retry in results if status == 429)
    time.sleep(0.5)  # the access log is written after the response
    pids = {
        line.split()[0]
        for line in live["access_log"].read_text().splitlines()
        if " POST /api/artworks/ " in line
    }
    # Several processes answered, and still only UPLOAD_RATE got through:
    # the budget lives in Redis, not in a worker's memory.
    assert len(pids) >= 2, pids
