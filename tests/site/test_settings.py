"""Settings fail loudly: production mode refuses dev secrets."""

from __future__ import annotations

import json
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
        (
            {"DEBUG": "0", "ALLOWED_HOSTS": "example.com", "SECRET_KEY": "short"},
            "SECRET_KEY",
        ),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"STUDIO_HTTPS": "tls"}, "STUDIO_HTTPS must be a boolean"),
        ({"STUDIO_MAX_PIXELS": "50MP"}, "STUDIO_MAX_PIXELS must be an integer"),
        ({"STUDIO_JOB_NICE": "20"}, "STUDIO_JOB_NICE must be at most 19"),
        ({"STUDIO_JOB_NICE": "-5"}, "STUDIO_JOB_NICE must be at least 0"),
        ({"STUDIO_TRUSTED_PROXY_COUNT": "1"}, "STUDIO_TRUSTED_PROXIES"),
        ({"STUDIO_TRUSTED_PROXIES": "10.0.0.0/8,nginx"}, "'nginx'"),
    ],
)
def test_bad_configuration_refuses_to_start(env, needle, tmp_path):
    result = _setup({"STUDIO_VAR_DIR": str(tmp_path), **env})
    assert result.returncode != 0
    assert needle in result.stderr


def _settings(env_changes: dict[str, str], *names: str) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}, default=str))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
        and not k.startswith("STUDIO_")
    }
    env.update(env_changes, DJANGO_SETTINGS_MODULE="artstudio_site.settings")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_debug_is_off_unless_asked_for(tmp_path):
    """Item 4: production mode is the default everywhere, `make run`
    included; development mode is opt-in."""
    var = {"STUDIO_VAR_DIR": str(tmp_path)}
    assert _settings(var, "DEBUG", "ALLOWED_HOSTS") == {
        "DEBUG": False,
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost", "[::1]"],
    }
    assert _settings({**var, "DEBUG": "1"}, "DEBUG") == {"DEBUG": True}


def test_secret_key_is_generated_once_into_the_var_dir(tmp_path):
    """Without SECRET_KEY, production mode on one machine still has a real
    key: made once, private to its owner, and the same on every start (and
    in every process) so sessions and signed links survive a restart."""
    var = {"STUDIO_VAR_DIR": str(tmp_path)}
    first = _settings(var, "SECRET_KEY", "SECRET_KEY_FILE")["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_text().strip() == first
    assert len(first) >= 40 and len(set(first)) > 10
    assert _settings(var, "SECRET_KEY")["SECRET_KEY"] == first
    assert not list(tmp_path.glob(".secret_key-*"))  # no temporary file left
    # SECRET_KEY, when set, wins over the file.
    assert _settings({**var, "SECRET_KEY": GOOD_KEY}, "SECRET_KEY") == {
        "SECRET_KEY": GOOD_KEY
    }
    # Another installation gets another key.
    other = tmp_path / "other"
    assert (
        _settings({"STUDIO_VAR_DIR": str(other)}, "SECRET_KEY")["SECRET_KEY"] != first
    )


def test_a_key_file_others_can_read_is_refused(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(GOOD_KEY)
    key_file.chmod(0o644)
    result = _setup({"STUDIO_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "chmod 600" in result.stderr


def test_concurrent_starts_share_one_key(tmp_path):
    """gunicorn workers and rq workers start together on a fresh machine."""
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    env.update(
        STUDIO_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="artstudio_site.settings"
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(6)
    ]
    keys = {p.communicate(timeout=120)[0].strip() for p in starts}
    assert len(keys) == 1 and len(keys.pop()) >= 40


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


SECRETS = {
    "DATABASE_URL": "postgres://studio:db-pass-3141@127.0.0.1:9/studio",
    "REDIS_URL": "redis://:queue-pass-2718@127.0.0.1:9/0",
    "CACHE_URL": "redis://default:cache-pass-1618@127.0.0.1:9/0",
}
BOOM = """
import sys
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
from django.urls import path

def boom(request):
    queue_url = settings.RQ_QUEUES[settings.STUDIO_QUEUE]["URL"]  # a local
    options = {"location": settings.CACHES["default"]["LOCATION"]}
    raise RuntimeError("boom")

urlpatterns = [path("boom/", boom)]
with override_settings(ROOT_URLCONF="__main__"):
    client = Client(raise_request_exception=False)
    for accept in ("text/html", "text/plain"):
        response = client.get("/boom/", HTTP_HOST="127.0.0.1", HTTP_ACCEPT=accept)
        assert response.status_code == 500, response.status_code
        sys.stdout.write(response.content.decode())
"""


def test_debug_error_pages_never_show_connection_passwords(tmp_path):
    """Item 4: a 500 with DEBUG=1 lists settings and a traceback's local
    variables; neither may show a password from a connection URL."""
    result = _run({"DEBUG": "1", "STUDIO_VAR_DIR": str(tmp_path), **SECRETS}, BOOM)
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert "RuntimeError" in page and "DATABASE_URL" in page  # the debug page
    assert "queue_url" in page  # with the frame's variables
    for secret in ("db-pass-3141", "queue-pass-2718", "cache-pass-1618"):
        assert secret not in page
    assert "SECRET_KEY" in page
    assert (tmp_path / "secret_key").read_text().strip() not in page
