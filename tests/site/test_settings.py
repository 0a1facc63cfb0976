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
