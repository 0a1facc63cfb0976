"""Settings fail loudly: production mode refuses dev secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 20 + "-production-secret-value-1234567890"


def _setup(env_changes: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    env.update(env_changes)
    env["DJANGO_SETTINGS_MODULE"] = "artstudio_site.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"DEBUG": "0", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY"),
        (
            {"DEBUG": "0", "ALLOWED_HOSTS": "example.com", "SECRET_KEY": "short"},
            "SECRET_KEY",
        ),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY}, "ALLOWED_HOSTS"),
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"STUDIO_MAX_PIXELS": "50MP"}, "STUDIO_MAX_PIXELS must be an integer"),
        ({"STUDIO_TRUSTED_PROXY_COUNT": "1"}, "STUDIO_TRUSTED_PROXIES"),
        ({"STUDIO_TRUSTED_PROXIES": "10.0.0.0/8,nginx"}, "'nginx'"),
    ],
)
def test_bad_configuration_refuses_to_start(env, needle):
    result = _setup(env)
    assert result.returncode != 0
    assert needle in result.stderr


def test_production_configuration_starts():
    result = _setup(
        {"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "example.com"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _run(env_changes: dict[str, str], code: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **env_changes,
        "DJANGO_SETTINGS_MODULE": "artstudio_site.settings",
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_sqlite_from_database_url_gets_wal_and_immediate_transactions(tmp_path):
    """Without IMMEDIATE, an upload's transaction begins by reading (the
    owner lock, the quota re-check) and its first write fails at once with
    "database is locked" when another process wrote meanwhile."""
    result = _run(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'studio.sqlite3'}"},
        "from django.db import connection\n"
        "connection.ensure_connection()\n"
        "mode = connection.cursor().execute('PRAGMA journal_mode').fetchone()[0]\n"
        "print(mode, connection.transaction_mode, connection.settings_dict['OPTIONS']['timeout'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "IMMEDIATE", "20"]


def test_server_errors_are_logged_in_production_and_deliberate_503s_are_not():
    """Django's default logs a 500 to the console only with DEBUG on. A 503
    is the studio's own answer (/readyz not ready, a saturated queue)."""
    result = _run(
        {"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "example.com"},
        "from django.test import Client\n"
        "status = Client().get('/readyz', HTTP_HOST='example.com', secure=True)"
        ".status_code\n"
        "assert status == 503, status  # no worker runs here\n"
        "import logging\n"
        "log = logging.getLogger('django.request')\n"
        "log.error('Internal Server Error: /x/', extra={'status_code': 500})",
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR django.request: Internal Server Error: /x/" in result.stderr
    assert "Service Unavailable" not in result.stderr
