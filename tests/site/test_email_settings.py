"""Email settings come from the environment under Django's own names; the
default prints mail to the console so `make run` works offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_TIMEOUT",
    "EMAIL_FILE_PATH", "DEFAULT_FROM_EMAIL",
]  # fmt: skip


def _settings(env_changes: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in NAMES}
    env.update(env_changes, DJANGO_SETTINGS_MODULE="artstudio_site.settings")
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {NAMES!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_default_prints_mail_to_the_console():
    result = _settings({})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["EMAIL_TIMEOUT"] == 10


def test_smtp_from_the_environment():
    result = _settings(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "smtp.example.com",
            "EMAIL_PORT": "587",
            "EMAIL_HOST_USER": "studio",
            "EMAIL_HOST_PASSWORD": "s3cret",
            "EMAIL_USE_TLS": "1",
            "EMAIL_FILE_PATH": "/tmp/mails",
            "DEFAULT_FROM_EMAIL": "Art Studio <art@example.com>",
        }
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["EMAIL_HOST"] == "smtp.example.com" and values["EMAIL_PORT"] == 587
    assert values["EMAIL_HOST_USER"] == "studio"
    assert values["EMAIL_HOST_PASSWORD"] == "s3cret"
    assert values["EMAIL_USE_TLS"] is True and values["EMAIL_USE_SSL"] is False
    assert values["EMAIL_FILE_PATH"] == "/tmp/mails"
    assert values["DEFAULT_FROM_EMAIL"] == "Art Studio <art@example.com>"


def test_bad_email_settings_refuse_to_start():
    for env, needle in [
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be an integer"),
        ({"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "not both"),
    ]:
        result = _settings(env)
        assert result.returncode != 0 and needle in result.stderr
