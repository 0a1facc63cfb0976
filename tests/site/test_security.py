"""Security in-process: headers, the body cap, upload limits, login lockout,
the Redis-outage behaviour of the cache, and what the media view serves."""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import caches
from django.template.defaultfilters import filesizeformat
from django.test import Client
from django.urls import reverse
from PIL import Image

from artstudio_site import cache as resilient_cache
from artstudio_site.uploads import BODY_OVERHEAD, READ_SIZE
from gallery.models import Artwork, Photo
from tests.conftest import PASSWORD, image_bytes, stored_files, upload_file

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------- headers --


def _csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize(
    "path", ["/", "/explore/", "/accounts/login/", "/accounts/signup/", "/healthz"]
)
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_pages_have_no_inline_script_or_style(owner_client):
    """A strict CSP would block them: every page loads /static/ files only."""
    for url in ("/", "/explore/", "/gallery/", "/upload/", "/accounts/login/"):
        html = owner_client.get(url).content.decode()
        for tag in html.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            # json_script data blocks are not executed, so CSP allows them.
            data_block = 'type="application/json"' in opening
            assert "src=" in opening or data_block, f"inline <script> on {url}"
        assert "<style" not in html, url
        assert " style=" not in html, url
        assert " onclick=" not in html and " onload=" not in html, url


def test_error_pages_carry_the_headers_too(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = False
    assert "Strict-Transport-Security" not in client.get("/healthz")
    secure = client.get("/healthz", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def test_forwarded_proto_is_not_trusted_unless_configured(client, settings):
    """Without STUDIO_PROXY_SSL_HEADER a client cannot claim HTTPS."""
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = True
    assert not getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    spoofed = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert spoofed.status_code == 301  # still plain HTTP: sent to https://
    assert "Strict-Transport-Security" not in spoofed
    # Health checks speak plain HTTP inside the container.
    assert client.get("/healthz").status_code == 200
    # Once the operator names the proxy's header, it is believed, from the
    # trusted proxy only (the test client's peer is 127.0.0.1).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    untrusted = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert untrusted.status_code == 301
    settings.STUDIO_TRUSTED_PROXIES = ["127.0.0.1"]
    trusted = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert trusted.status_code == 200
    assert "Strict-Transport-Security" in trusted


# ------------------------------------------------------------ body cap --


class EndlessBody:
    """A request body far larger than the cap that counts what is read."""

    def __init__(self, total: int, chunk: bytes = b"x" * READ_SIZE):
        self.total = total
        self.chunk = chunk
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        if self.read_bytes >= self.total:
            return b""
        size = READ_SIZE if size is None or size < 0 else size
        piece = self.chunk[: min(size, self.total - self.read_bytes)]
        self.read_bytes += len(piece)
        return piece

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _multipart(data: bytes, filename: str = "photo.jpg") -> tuple[bytes, str]:
    boundary = "----studio-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="style"\r\n\r\npencil\r\n'
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="image"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


class ChunkedBody(io.BytesIO):
    """What gunicorn hands over for Transfer-Encoding: chunked (decoded)."""


TWO_HUNDRED_MB = 200 * 1024 * 1024


@pytest.mark.parametrize("path", ["/api/artworks/", "/upload/"])
def test_declared_200_mb_body_is_refused_unread(
    owner_client, media_root, settings, path
):
    # The upload endpoints take videos: their cap is STUDIO_MAX_VIDEO_BYTES.
    settings.STUDIO_MAX_VIDEO_BYTES = 100 * 1024 * 1024
    body = EndlessBody(TWO_HUNDRED_MB)
    response = owner_client.generic(
        "POST",
        path,
        **{
            "CONTENT_TYPE": "multipart/form-data; boundary=x",
            "wsgi.input": body,
            "CONTENT_LENGTH": str(TWO_HUNDRED_MB),
        },
    )
    assert response.status_code == 413
    assert body.read_bytes == 0
    if path.startswith("/api/"):
        assert response.json()["field"] == "image"
        assert "too large" in response.json()["error"]
    else:
        assert b"too large" in response.content
        assert response["Content-Type"].startswith("text/html")
    assert not Photo.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("path", ["/api/artworks/", "/upload/"])
def test_chunked_200_mb_body_stops_at_the_cap(owner_client, settings, path, tmp_path):
    settings.STUDIO_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    settings.STUDIO_MAX_VIDEO_BYTES = 1024 * 1024  # the larger of the two counts
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool_dir)
    body = EndlessBody(TWO_HUNDRED_MB)
    response = owner_client.generic(
        "POST",
        path,
        **{
            "CONTENT_TYPE": "multipart/form-data; boundary=x",
            "wsgi.input": body,
            "CONTENT_LENGTH": "",
            "HTTP_TRANSFER_ENCODING": "chunked",
        },
    )
    assert response.status_code == 413
    # Reading stopped one read past the cap, not at 200 MB...
    assert body.read_bytes <= 2 * 1024 * 1024 + BODY_OVERHEAD + READ_SIZE
    # ...and the temporary copy is gone.
    assert list(spool_dir.iterdir()) == []


def test_chunked_upload_within_the_cap_works(owner_client, queue):
    body, content_type = _multipart(image_bytes())
    response = owner_client.generic(
        "POST",
        "/api/artworks/",
        **{
            # RequestFactory sets the type only for a body it builds itself.
            "CONTENT_TYPE": content_type,
            "wsgi.input": ChunkedBody(body),
            "CONTENT_LENGTH": "",
            "HTTP_TRANSFER_ENCODING": "chunked",
        },
    )
    assert response.status_code == 202, response.content
    assert Artwork.objects.count() == 1


@pytest.mark.parametrize(
    "who,path",
    [
        ("anonymous", "/accounts/login/"),
        ("anonymous", "/api/artworks/"),
        ("member", "/accounts/login/"),
        ("member", "/explore/"),
    ],
)
def test_chunked_bodies_are_taken_by_the_upload_views_only(
    owner_client, client, settings, tmp_path, who, path
):
    """Before, any URL spooled a chunked body (up to the upload cap) to disk,
    for anyone, before login or CSRF were checked."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool_dir)
    body = EndlessBody(TWO_HUNDRED_MB)
    requester = owner_client if who == "member" else Client()
    response = requester.generic(
        "POST",
        path,
        **{
            "CONTENT_TYPE": "multipart/form-data; boundary=x",
            "wsgi.input": body,
            "CONTENT_LENGTH": "",
            "HTTP_TRANSFER_ENCODING": "chunked",
        },
    )
    assert response.status_code == 411
    assert body.read_bytes == 0
    assert list(spool_dir.iterdir()) == []


def test_a_trusted_proxys_oversized_body_is_drained_before_the_413(
    owner_client, settings
):
    """nginx has buffered the whole body and is still writing it: a refusal
    sent unread would be reset and reach the client as a 502."""
    settings.STUDIO_MAX_UPLOAD_BYTES = settings.STUDIO_MAX_VIDEO_BYTES = 100_000
    size = 100_000 + BODY_OVERHEAD + 10_000
    for trusted, read in ((["127.0.0.1"], size), ([], 0)):
        settings.STUDIO_TRUSTED_PROXIES = trusted
        body = EndlessBody(size)
        response = owner_client.generic(
            "POST",
            "/api/artworks/",
            **{
                "CONTENT_TYPE": "multipart/form-data; boundary=x",
                "wsgi.input": body,
                "CONTENT_LENGTH": str(size),
            },
        )
        assert response.status_code == 413
        assert body.read_bytes == read


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/api/artworks/", False),
        ("/upload/", False),
        ("/api/preview/", True),
        ("/accounts/login/", True),
        ("/explore/", True),
    ],
)
def test_the_video_cap_is_the_body_cap_of_the_upload_endpoints_only(
    owner_client, settings, path, refused
):
    """A body over STUDIO_MAX_UPLOAD_BYTES but under STUDIO_MAX_VIDEO_BYTES:
    read by the two upload endpoints (a short video), refused unread by
    every other one."""
    settings.STUDIO_MAX_UPLOAD_BYTES = 100_000
    settings.STUDIO_MAX_VIDEO_BYTES = 1_000_000
    size = 500_000
    body = EndlessBody(size)
    response = owner_client.generic(
        "POST",
        path,
        **{
            "CONTENT_TYPE": "multipart/form-data; boundary=x",
            "wsgi.input": body,
            "CONTENT_LENGTH": str(size),
        },
    )
    if refused:
        assert response.status_code == 413
        assert body.read_bytes == 0
        # The photo cap is the one named (JSON for the API, a page otherwise).
        text = response.content.decode()
        if path.startswith("/api/"):
            text = response.json()["error"]
        assert filesizeformat(100_000) in text
    else:
        assert response.status_code != 413
        assert body.read_bytes > 0


def test_bad_content_length_is_400(owner_client):
    response = owner_client.generic(
        "POST", "/api/artworks/", b"", CONTENT_LENGTH="lots"
    )
    assert response.status_code == 400


def test_too_many_files_is_400_not_500(owner_client, settings, media_root):
    files = {f"image{i}": upload_file(name=f"p{i}.jpg") for i in range(25)}
    response = owner_client.post("/api/artworks/", {"style": "pencil", **files})
    assert response.status_code == 400
    assert not Photo.objects.exists()
    assert stored_files(media_root) == []


def test_too_many_fields_is_400_not_500(owner_client):
    fields = {f"field{i}": "x" for i in range(300)}
    response = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file(), **fields}
    )
    assert response.status_code == 400


# ---------------------------------------------------------- rate limit --


def test_upload_rate_limit_api_and_page(
    owner_client, settings, queue, steady_rate_window
):
    settings.STUDIO_UPLOAD_RATE = 3
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 100
    for _ in range(2):
        response = owner_client.post(
            "/api/artworks/", {"style": "pencil", "image": upload_file()}
        )
        assert response.status_code == 202
    # Invalid attempts count too: the work behind the form costs all the same.
    bad = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file(b"nope")}
    )
    assert bad.status_code == 400
    refused = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file()}
    )
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]
    page = owner_client.post("/upload/", {"style": "pencil", "image": upload_file()})
    assert page.status_code == 429
    assert page["Retry-After"]
    assert Artwork.objects.count() == 2
    # Reading pages is not limited.
    assert owner_client.get("/upload/").status_code == 200


def test_rate_limit_is_per_user(
    owner_client, other_client, settings, queue, steady_rate_window
):
    settings.STUDIO_UPLOAD_RATE = 1
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 100
    first = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file()}
    )
    assert first.status_code == 202
    assert (
        owner_client.post(
            "/api/artworks/", {"style": "pencil", "image": upload_file()}
        ).status_code
        == 429
    )
    assert (
        other_client.post(
            "/api/artworks/", {"style": "pencil", "image": upload_file()}
        ).status_code
        == 202
    )


def test_cache_is_shared_redis():
    from django.conf import settings

    backend = caches["default"]
    assert isinstance(backend, resilient_cache.ResilientRedisCache)
    # The cache's own Redis, not the queue's (they evict differently).
    assert settings.CACHES["default"]["LOCATION"] == settings.CACHE_URL
    assert settings.CACHE_URL != settings.REDIS_URL
    backend.set("shared-probe", 42)
    # A second client (another process would do the same) sees the value.
    other = resilient_cache.ResilientRedisCache(
        settings.CACHE_URL, settings.CACHES["default"]
    )
    assert other.get("shared-probe") == 42
    backend.delete("shared-probe")


@pytest.fixture
def redis_down(settings):
    """The cache pointed at a port nobody listens on."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    yield caches["default"]


def test_cache_outage_degrades_to_misses(redis_down):
    cache = redis_down
    assert cache.get("k", "fallback") == "fallback"
    assert cache.add("k", 1) is False
    cache.set("k", 1)
    assert cache.get_many(["a", "b"]) == {}
    with pytest.raises(ValueError):
        cache.incr("k")
    assert cache.delete("k") is False


def test_cache_counter_is_one_transaction_and_fails_open(redis_down):
    assert redis_down.count("k", timeout=60) is None  # Redis away: no count


def test_cache_counter_counts_and_expires():
    backend = caches["default"]
    backend.delete("count-probe")
    assert [backend.count("count-probe", timeout=60) for _ in range(3)] == [1, 2, 3]
    client = backend._cache.get_client(write=True)
    key = backend.make_key("count-probe")
    assert 0 < client.ttl(key) <= 60  # from the first count, not renewed
    assert backend.get("count-probe") == 3
    backend.delete("count-probe")


def test_cache_keeps_one_redis_client_per_pool(monkeypatch):
    """Django builds a ``redis.Redis`` per operation; building one cost more
    than the round trip it made."""
    import redis
    from django.conf import settings

    backend = resilient_cache.ResilientRedisCache(
        settings.CACHE_URL, settings.CACHES["default"]
    )
    built = []
    original = redis.Redis.__init__

    def counted(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counted)
    for _ in range(5):
        backend.set("client-probe", 1)
        backend.get("client-probe")
        backend.count("client-probe-n", timeout=5)
    backend.delete_many(["client-probe", "client-probe-n"])
    assert len(built) <= 2  # one per pool (reads and writes may differ)


def test_upload_works_while_redis_cache_is_down(owner_client, settings, redis_down):
    settings.STUDIO_UPLOAD_RATE = 1
    settings.STUDIO_MAX_UNFINISHED_PER_USER = 100
    for _ in range(3):  # fail open: no limit, and above all no 500
        response = owner_client.post(
            "/api/artworks/", {"style": "pencil", "image": upload_file()}
        )
        assert response.status_code == 202


# -------------------------------------------------------- login lockout --


def _attempt(client: Client, url: str, password: str):
    return client.post(url, {"username": "ada", "password": password})


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_brute_force_is_locked_out(owner, settings, url):
    owner.is_staff = True
    owner.save()
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        response = _attempt(client, url, "wrong-password")
        assert response.status_code == 200  # the form again, with an error
    locked = _attempt(client, url, "wrong-password")
    assert locked.status_code == 429
    assert b"Sign-in locked" in locked.content
    # Even the right password is refused now.
    again = _attempt(client, url, PASSWORD)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not locked out for this user.
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    assert _attempt(elsewhere, url, PASSWORD).status_code == 302


def test_success_resets_the_failure_count(owner, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        _attempt(client, "/accounts/login/", "wrong-password")
    assert _attempt(client, "/accounts/login/", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        assert _attempt(client, "/accounts/login/", "nope").status_code == 200
    assert _attempt(client, "/accounts/login/", PASSWORD).status_code == 302


def test_forwarded_for_is_ignored_without_trusted_proxies(owner, settings):
    """A client cannot dodge the lockout by inventing X-Forwarded-For."""
    settings.AXES_FAILURE_LIMIT = 2
    for i in range(2):
        _attempt(
            Client(HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"), "/accounts/login/", "bad"
        )
    locked = _attempt(
        Client(HTTP_X_FORWARDED_FOR="203.0.113.99"), "/accounts/login/", PASSWORD
    )
    assert locked.status_code == 429


def test_forwarded_for_is_believed_only_from_a_trusted_peer(rf, settings):
    from artstudio_site.proxy import client_ip

    def ip(remote: str, forwarded: str = "") -> str:
        request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
        return client_ip(request)

    chain = "1.2.3.4, 198.51.100.7"
    settings.STUDIO_TRUSTED_PROXIES = []
    assert ip("10.0.0.2", chain) == "10.0.0.2"
    settings.STUDIO_TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert ip("10.0.0.2", chain) == "198.51.100.7"  # the proxy's own entry
    assert ip("203.0.113.5", chain) == "203.0.113.5"  # not our proxy: ignored
    # Entries added by trusted proxies further in are skipped.
    assert ip("10.0.0.2", "1.2.3.4, 10.0.0.9") == "1.2.3.4"
    assert ip("10.0.0.2", "") == "10.0.0.2"
    assert ip("10.0.0.2", "1.2.3.4, not-an-address") == "10.0.0.2"
    settings.STUDIO_TRUSTED_PROXIES = ["10.0.0.2", "fd00::/8"]
    assert ip("fd00::1", "2001:db8::7") == "2001:db8::7"


def test_direct_client_with_a_proxy_configured_cannot_dodge_the_lockout(
    owner, settings
):
    """With a proxy configured, a client that reaches gunicorn directly sends
    a fresh X-Forwarded-For on each attempt: the old count-based trust
    believed it and never locked the client out."""
    settings.STUDIO_TRUSTED_PROXIES = ["10.0.0.0/24"]
    settings.STUDIO_TRUSTED_PROXY_COUNT = 1  # what one had to set before
    settings.AXES_FAILURE_LIMIT = 3
    direct = {"REMOTE_ADDR": "198.51.100.9"}
    for i in range(3):
        _attempt(
            Client(HTTP_X_FORWARDED_FOR=f"203.0.113.{i}", **direct),
            "/accounts/login/",
            "bad",
        )
    locked = _attempt(
        Client(HTTP_X_FORWARDED_FOR="203.0.113.99", **direct),
        "/accounts/login/",
        PASSWORD,
    )
    assert locked.status_code == 429
    # Through the proxy, the forwarded address is the client's own.
    proxied = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.50")
    assert _attempt(proxied, "/accounts/login/", PASSWORD).status_code == 302


def test_one_username_from_many_addresses_is_locked(owner, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.STUDIO_LOGIN_USERNAME_FAILURE_LIMIT = 6
    for i in range(5):  # two per address: under the pair's budget of 3
        client = Client(REMOTE_ADDR=f"198.51.100.{i // 2}")
        assert _attempt(client, "/accounts/login/", "bad").status_code == 200
    # The sixth failure, from yet another address, reaches the budget.
    sixth = Client(REMOTE_ADDR="198.51.100.3")
    assert _attempt(sixth, "/accounts/login/", "bad").status_code == 429
    fresh = Client(REMOTE_ADDR="192.0.2.200")
    assert _attempt(fresh, "/accounts/login/", PASSWORD).status_code == 429


def test_one_address_spraying_many_usernames_is_locked(
    owner, settings, django_user_model
):
    settings.AXES_FAILURE_LIMIT = 3
    settings.STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT = 5
    sprayer = Client(REMOTE_ADDR="198.51.100.66")
    for i in range(4):
        response = sprayer.post(
            "/accounts/login/", {"username": f"victim{i}", "password": "bad"}
        )
        assert response.status_code == 200
    fifth = sprayer.post("/accounts/login/", {"username": "v4", "password": "bad"})
    assert fifth.status_code == 429
    # The sprayer's own (right) password for a sixth account is refused too.
    assert _attempt(sprayer, "/accounts/login/", PASSWORD).status_code == 429
    # Everyone else still signs in.
    assert _attempt(Client(), "/accounts/login/", PASSWORD).status_code == 302


def test_signing_in_to_ones_own_account_keeps_the_address_budget(
    owner, other, settings
):
    settings.AXES_FAILURE_LIMIT = 10
    settings.STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT = 4
    sprayer = Client(REMOTE_ADDR="198.51.100.66")
    for i in range(3):
        sprayer.post("/accounts/login/", {"username": f"victim{i}", "password": "x"})
    ok = sprayer.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert ok.status_code == 302  # "bob" is the sprayer's own account
    sprayer.post("/accounts/logout/")
    sprayer.post("/accounts/login/", {"username": "victim9", "password": "x"})
    assert _attempt(sprayer, "/accounts/login/", PASSWORD).status_code == 429


# ------------------------------------------------------- what is served --


@pytest.fixture
def done_artwork(owner, queue, run_worker):
    import processing
    from gallery import services
    from tests.conftest import upload_file as make_upload

    data = image_bytes("PNG") + b"<html><script>alert(1)</script>"
    (artwork,) = services.artworks_create(
        owner,
        make_upload(data, "photo.png", "image/png"),
        processing.inspect(data),
        [services.Recipe("pencil", processing.validate_params("pencil", {}))],
    )
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == "done"
    return artwork


@pytest.mark.django_db(transaction=True)
def test_served_files_are_images_with_nosniff(owner_client, done_artwork):
    for kind in ("original", "result", "thumbnail"):
        response = owner_client.get(
            reverse("gallery:artwork_media", args=[done_artwork.pk, kind])
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("image/"), kind
        assert response["X-Content-Type-Options"] == "nosniff"
        body = b"".join(response.streaming_content)
        if kind != "original":
            # The HTML appended to the upload does not survive re-encoding.
            assert b"<script" not in body
            assert Image.open(io.BytesIO(body)).format == "JPEG"


@pytest.mark.django_db(transaction=True)
def test_original_of_a_public_artwork_stays_with_its_owner(
    owner_client, other_client, done_artwork
):
    anonymous = Client()
    done_artwork.public = True
    done_artwork.save(update_fields=["public"])
    url = reverse("gallery:artwork_media", args=[done_artwork.pk, "original"])
    assert owner_client.get(url).status_code == 200
    assert other_client.get(url).status_code == 404
    assert anonymous.get(url).status_code == 404
    result = reverse("gallery:artwork_media", args=[done_artwork.pk, "result"])
    assert other_client.get(result).status_code == 200
    page = other_client.get(done_artwork.get_absolute_url()).content.decode()
    assert url not in page


def test_lockout_and_limit_messages_are_json_for_the_api(owner_client, settings):
    settings.STUDIO_UPLOAD_RATE = 1
    owner_client.post("/api/artworks/", {"style": "pencil", "image": upload_file(b"")})
    response = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file()}
    )
    assert response.status_code == 429
    assert json.loads(response.content)["error"]
