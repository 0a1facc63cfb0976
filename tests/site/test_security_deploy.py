"""Production settings: Django's deploy checks pass, and bad secrets fail.

Each case runs in a fresh interpreter, because settings are read once from
the environment at import time.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_VARIABLES = {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}


def _env(tmp_path, **changes: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in APP_VARIABLES and not k.startswith("STUDIO_")
    }
    env["DJANGO_SETTINGS_MODULE"] = "artstudio_site.settings"
    env["STUDIO_VAR_DIR"] = str(tmp_path / "var")
    env.update(changes)
    return env


def _production(tmp_path, **changes: str) -> dict[str, str]:
    """Production behind TLS, as compose runs it."""
    return _env(
        tmp_path,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="studio.example.com",
        STUDIO_HTTPS="1",
        **changes,
    )


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _settings(env: dict[str, str], *names: str) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = _check_deploy(_production(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "secret_key",
    [
        None,  # missing, and the var dir's key file cannot be created
        "short-key",  # refused by our settings
        "ab" * 23,  # 46 characters but two distinct ones: Django's W009
        "django-insecure-" + "x1y2z3w4v5" * 4,  # startproject's placeholder
    ],
    ids=["missing", "short", "low-entropy", "django-insecure"],
)
def test_check_deploy_fails_on_a_missing_or_insecure_key(tmp_path, secret_key):
    env = _production(tmp_path)
    if secret_key is None:
        del env["SECRET_KEY"]
        # A read-only place, as the image's /app is for its user.
        env["STUDIO_VAR_DIR"] = "/proc/studio-var"
    else:
        env["SECRET_KEY"] = secret_key
    result = _check_deploy(env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stdout + result.stderr


def test_missing_key_is_generated_into_the_var_dir_and_passes(tmp_path):
    env = _production(tmp_path)
    del env["SECRET_KEY"]
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_cookies_and_headers(tmp_path):
    values = _settings(
        _production(tmp_path),
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SAMESITE",
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "X_FRAME_OPTIONS",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_SSL_REDIRECT": True,
        # Behind TLS (STUDIO_HTTPS=1): the proxy's X-Forwarded-Proto.
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "X_FRAME_OPTIONS": "DENY",
    }


@pytest.mark.parametrize(
    "value,expected",
    [
        ("X-Forwarded-Proto", ["HTTP_X_FORWARDED_PROTO", "https"]),
        ("X-Forwarded-Ssl=on", ["HTTP_X_FORWARDED_SSL", "on"]),
    ],
)
def test_proxy_ssl_header_only_when_configured(tmp_path, value, expected):
    env = _production(tmp_path, STUDIO_PROXY_SSL_HEADER=value)
    assert _settings(env, "SECURE_PROXY_SSL_HEADER") == {
        "SECURE_PROXY_SSL_HEADER": expected
    }


def test_plain_http_production_is_the_default(tmp_path):
    """`make run`: production mode (no debug pages) that works over plain
    HTTP on loopback: no redirect to https, cookies a browser sends over
    http, no HSTS, and no forwarded scheme believed."""
    names = (
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_PROXY_SSL_HEADER",
    )
    expected = {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "CSRF_COOKIE_HTTPONLY": True,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    assert _settings(_env(tmp_path), *names) == expected
    # Development mode is opt-in, and the HTTPS switch is its own.
    assert _settings(_env(tmp_path, DEBUG="1"), *names[:3]) == {
        "DEBUG": True,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


def test_https_switch_turns_on_every_https_setting(tmp_path):
    values = _settings(
        _env(tmp_path, STUDIO_HTTPS="1"),
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
    )
    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        # Our nginx sets it (deploy/nginx); see STUDIO_TRUSTED_PROXIES.
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"STUDIO_STORAGE": "ftp"}, "STUDIO_STORAGE must be"),
        ({"STUDIO_STORAGE": "s3"}, "STUDIO_S3_BUCKET must be set"),
    ],
)
def test_bad_storage_configuration_refuses_to_start(tmp_path, changes, needle):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=_production(tmp_path, **changes),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert needle in result.stderr


def test_s3_settings_and_csp_allow_the_bucket_origin(tmp_path):
    env = _production(
        tmp_path,
        STUDIO_STORAGE="s3",
        STUDIO_S3_BUCKET="art",
        STUDIO_S3_ENDPOINT_URL="https://objects.example.net:9000",
    )
    values = _settings(env, "STORAGES", "CONTENT_SECURITY_POLICY")
    options = values["STORAGES"]["default"]["OPTIONS"]
    assert values["STORAGES"]["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] == 300
    assert options["default_acl"] is None
    img_src = values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    assert "https://objects.example.net:9000" in img_src
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
