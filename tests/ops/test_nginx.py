"""The project's nginx config (deploy/nginx) in front of a real gunicorn.

Debian's nginx runs the same template the compose nginx renders, from a
private prefix (pid and temporary files in a throw-away folder), in front of
gunicorn with production settings on loopback: idle half-open connections
stay with nginx, the body cap follows STUDIO_MAX_UPLOAD_BYTES (and, on the
upload endpoints, STUDIO_MAX_VIDEO_BYTES), text is
compressed and hashed static names are cached for a year.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from artstudio_site.launcher import (
    nginx_binary,
    nginx_body_size,
    nginx_command,
    nginx_real_ip,
    stop,
    write_nginx_config,
)
from tests.ops.stack import REPO, clean_env, free_port, wait_http

MAX_UPLOAD = 2 * 1024 * 1024
MAX_VIDEO = 3 * 1024 * 1024
IDLE_CONNECTIONS = 200
ENVSH = REPO / "deploy" / "nginx" / "15-studio-body-size.envsh"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """gunicorn (1 sync worker: a single idle connection reaching it
    would block every other request) behind nginx."""
    try:
        nginx_binary()
    except SystemExit:
        pytest.fail("nginx is not installed: `make test` installs Debian's nginx")
    var = tmp_path_factory.mktemp("var")
    env = clean_env(
        var,
        STATIC_ROOT=str(REPO / "var" / "staticfiles"),
        STUDIO_MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
        STUDIO_MAX_VIDEO_BYTES=str(MAX_VIDEO),
        WEB_CONCURRENCY="1",
    )
    for name in ("REDIS_URL", "CACHE_URL"):
        if name in os.environ:
            env[name] = os.environ[name]
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    upstream_port, port = free_port(), free_port()
    web = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "artstudio_site.wsgi:application",
            "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{upstream_port}",
            "--access-logfile", "/dev/null", "--error-logfile", str(var / "web.log"),
        ],
        cwd=REPO, env=env, start_new_session=True,
    )  # fmt: skip
    prefix = Path(tempfile.mkdtemp(prefix="studio-nginx-test-"))
    conf = write_nginx_config(
        prefix,
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{upstream_port}",
        max_upload_bytes=MAX_UPLOAD,
        max_video_bytes=MAX_VIDEO,
    )
    proxy = subprocess.Popen(
        nginx_command(prefix, conf),
        stderr=open(var / "nginx.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"http://127.0.0.1:{upstream_port}/healthz", 90, web)
        wait_http(base + "/healthz", 30, proxy)
        yield {"base": base, "port": port, "upstream_port": upstream_port}
    finally:
        stop([proxy, web], timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)


def test_idle_half_open_connections_do_not_block_a_normal_request(proxied):
    """Item 2: 200 clients that send half a request and then nothing. Without
    nginx one of them alone holds this gunicorn's only thread."""
    sockets = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", proxied["port"]), timeout=5)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            sockets.append(sock)
        time.sleep(0.5)  # nginx has read every one of them
        timings = []
        for _ in range(5):
            started = time.monotonic()
            response = requests.get(proxied["base"] + "/healthz", timeout=5)
            timings.append(time.monotonic() - started)
            assert response.status_code == 200
        assert max(timings) < 1.0, timings
        # The same is true of a page that uses the database and templates.
        started = time.monotonic()
        assert requests.get(proxied["base"] + "/", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for sock in sockets:
            sock.close()


def _declared_body_reply(base_port: int, path: str, length: int) -> str:
    """nginx's first answer to a body of ``length`` declared and not sent."""
    sock = socket.create_connection(("127.0.0.1", base_port), timeout=10)
    try:
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: %d\r\n\r\n" % (path.encode(), length)
        )
        return sock.recv(65536).decode(errors="replace")
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("path", "max_file"),
    [("/api/preview/", MAX_UPLOAD), ("/api/artworks/", MAX_VIDEO)],
)
def test_a_body_over_the_cap_is_refused_by_nginx_unread(proxied, path, max_file):
    """The photo cap everywhere; the video cap on the upload endpoints."""
    reply = _declared_body_reply(proxied["port"], path, nginx_body_size(max_file) + 1)
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    # Just under nginx's limit (over the app's cap): the app answers, with
    # its own 413 in JSON.
    response = requests.post(
        proxied["base"] + path,
        data=b"x" * (max_file + 128 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"


def test_the_upload_endpoints_take_bodies_over_the_photo_cap(proxied):
    """A clip above STUDIO_MAX_UPLOAD_BYTES passes nginx and the app's body
    cap on /api/artworks/ (the anonymous request then answers 401)."""
    response = requests.post(
        proxied["base"] + "/api/artworks/",
        data=b"x" * (MAX_UPLOAD + 256 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    assert response.status_code == 401, response.text[:200]


def test_text_is_compressed_and_hashed_static_names_are_cached(proxied):
    page = requests.get(
        proxied["base"] + "/", headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "gzip"
    assert "no-cache" not in page.headers.get("Cache-Control", "")
    static = [
        part.split('"')[0]
        for part in page.text.split('href="')[1:]
        if part.startswith("/static/") and ".css" in part.split('"')[0]
    ]
    assert static, page.text[:500]
    first = requests.get(proxied["base"] + static[0], timeout=10)
    second = requests.get(proxied["base"] + static[0], timeout=10)
    assert first.status_code == second.status_code == 200
    assert second.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert second.headers["X-Cache-Status"] == "HIT"


@pytest.mark.parametrize(
    ("max_upload", "max_video"),
    [(MAX_UPLOAD, MAX_VIDEO), (40 * 1024 * 1024, 200 * 1024 * 1024), (MAX_VIDEO, 1)],
)
def test_compose_renders_the_same_body_cap(max_upload, max_video):
    """The official image sources deploy/nginx/*.envsh before envsubst."""
    result = subprocess.run(
        [
            "sh",
            "-c",
            f'. "{ENVSH}"; echo "$NGINX_CLIENT_MAX_BODY_SIZE $NGINX_UPLOAD_MAX_BODY_SIZE"',
        ],
        env={
            "STUDIO_MAX_UPLOAD_BYTES": str(max_upload),
            "STUDIO_MAX_VIDEO_BYTES": str(max_video),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
    )
    general, upload = result.stdout.split()
    assert int(general) == nginx_body_size(max_upload)
    assert int(upload) == nginx_body_size(max(max_upload, max_video))
    assert ENVSH.stat().st_mode & 0o111, "the image sources only executable .envsh"


def test_rendered_config_passes_nginx_test(tmp_path):
    prefix = Path(tempfile.mkdtemp(prefix="studio-nginx-t-"))
    try:
        conf = write_nginx_config(
            prefix,
            listen=f"127.0.0.1:{free_port()}",
            upstream="127.0.0.1:9",
            max_upload_bytes=MAX_UPLOAD,
            max_video_bytes=MAX_VIDEO,
        )
        text = (prefix / "studio.conf").read_text()
        assert f"client_max_body_size {nginx_body_size(MAX_UPLOAD)};" in text
        assert f"client_max_body_size {nginx_body_size(MAX_VIDEO)};" in text
        assert "${" not in text
        for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
            assert f"proxy_set_header {header} " in text
        result = subprocess.run(
            [nginx_binary(), "-t", "-p", str(prefix), "-c", str(conf)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def _post(port: int, path: str, source: str, headers: dict | None = None):
    """A bare POST from a given loopback address: (status, headers)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("POST", path, body=b"", headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def test_preview_and_sign_in_posts_are_rate_limited_per_address(proxied):
    """One address flooding the expensive POSTs is answered 429 by nginx
    (the benchmark under attack: otherwise they fill gunicorn's workers);
    another address, and GETs, are not held back."""
    port = proxied["port"]
    answers = [_post(port, "/api/preview/", "127.0.0.31") for _ in range(30)]
    statuses = [status for status, _ in answers]
    assert 429 in statuses and statuses[0] != 429, statuses
    limited = next(headers for status, headers in answers if status == 429)
    assert limited["Content-Type"] == "application/json"
    assert int(limited["Retry-After"]) >= 1
    assert _post(port, "/api/preview/", "127.0.0.32")[0] != 429
    logins = [_post(port, "/accounts/login/", "127.0.0.33")[0] for _ in range(20)]
    assert logins.count(429) >= 5 and logins[0] != 429, logins
    assert _post(port, "/accounts/signup/", "127.0.0.33")[0] == 429
    assert requests.get(proxied["base"] + "/accounts/login/", timeout=5).ok


def _get(port: int, path: str, source: str) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_one_address_cannot_keep_gunicorn_busy_with_cheap_requests(proxied):
    """Any request to the app counts against a per-address rate with a
    burst a page and its thumbnails fit in; the machine itself (health
    checks) is not limited."""
    port = proxied["port"]
    flood = [_get(port, "/healthz", "127.0.0.34") for _ in range(120)]
    assert flood[:60].count(200) == 60 and flood.count(429) >= 30, flood
    assert _get(port, "/healthz", "127.0.0.35") == 200
    assert _get(port, "/static/nothing.css", "127.0.0.34") != 429
    local = [_get(port, "/healthz", "127.0.0.1") for _ in range(120)]
    assert set(local) == {200}


def test_full_size_files_have_a_lower_rate_per_address(proxied):
    """A loop over one public 12 MP result (PNG/WebP, tens of MB each) held
    a gunicorn worker per request; thumbnails keep the general rate."""
    port = proxied["port"]
    results = [
        _get(port, "/media/artworks/1/result/?format=png", "127.0.0.36")
        for _ in range(25)
    ]
    assert results[0] != 429 and results.count(429) >= 10, results
    assert _get(port, "/media/artworks/1/thumbnail/", "127.0.0.36") != 429
    assert _get(port, "/media/artworks/1/result/", "127.0.0.37") != 429


@pytest.fixture(scope="module")
def behind_terminator(proxied):
    """The same gunicorn behind an nginx that trusts a TLS terminator on
    127.0.0.1 (NGINX_TRUSTED_PROXIES)."""
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="studio-nginx-realip-"))
    conf = write_nginx_config(
        prefix,
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{proxied['upstream_port']}",
        max_upload_bytes=MAX_UPLOAD,
        trusted_proxies="127.0.0.1/32, 10.9.0.0/16",
    )
    proxy = subprocess.Popen(nginx_command(prefix, conf), start_new_session=True)
    try:
        assert "set_real_ip_from 10.9.0.0/16;" in (prefix / "studio.conf").read_text()
        wait_http(f"http://127.0.0.1:{port}/healthz", 30, proxy)
        yield port
    finally:
        stop([proxy], timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)


def test_behind_a_tls_terminator_limits_count_the_forwarded_client(
    behind_terminator,
):
    """Every connection comes from the terminator: without realip all its
    clients would share one budget. From the terminator the client is its
    X-Forwarded-For; from anyone else that header changes nothing."""
    port = behind_terminator

    def flood(source: str, client: str) -> list[int]:
        headers = {"X-Forwarded-For": client}
        return [_post(port, "/api/preview/", source, headers)[0] for _ in range(25)]

    assert 429 in flood("127.0.0.1", "198.51.100.7")
    # Another client of the same terminator still gets through.
    assert (
        _post(port, "/api/preview/", "127.0.0.1", {"X-Forwarded-For": "198.51.100.8"})[
            0
        ]
        != 429
    )
    # A peer that is not the terminator cannot pick its address.
    rotating = [
        _post(
            port, "/api/preview/", "127.0.0.41", {"X-Forwarded-For": f"203.0.113.{i}"}
        )[0]
        for i in range(25)
    ]
    assert 429 in rotating, rotating


def test_compose_renders_the_same_real_ip_directives():
    for proxies in ("", "172.30.0.0/16", "10.0.0.0/8, 192.168.1.2"):
        result = subprocess.run(
            ["sh", "-c", f'. "{ENVSH}"; printf "%s" "$NGINX_REAL_IP"'],
            env={"NGINX_TRUSTED_PROXIES": proxies, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )
        assert result.stdout == nginx_real_ip(proxies)
