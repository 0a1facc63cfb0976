"""gunicorn settings shared by `make run` and the container."""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers (one request at a time per process), behind nginx's buffering
# (deploy/nginx), which reads whole requests before passing them on and takes
# responses off gunicorn at loopback speed, so a slow client costs nginx a
# buffer, not a worker. Measured with benchmarks/bench_recycle.py (5000 mixed
# GET / multipart POST requests, 8 keep-alive clients, 11 recycles; README
# "Web server"):
#   gthread, max_requests: 30 requests reset without nginx, 10 answered 502
#     through it: at each recycle the worker drops the keep-alive and the
#     accepted-but-unread connections it holds (gunicorn issue 3038);
#   sync, max_requests: 0 failures either way: it accepts one connection,
#     answers it, closes it, and only then checks max_requests;
#   either class without max_requests: 0 failures, memory flat over 5000
#     requests (but the live preview decodes photos in the web process, and a
#     process's freed image buffers come back slowly; recycling returns them).
# The sync worker also has no thread pool whose shutdown a second quit signal
# could re-enter and deadlock (issue 11), and one thread means one malloc
# arena per process instead of one per thread.
worker_class = "sync"
threads = 1
# The live preview renders in the web process: a few processes per core, so
# that a preview does not hold up the pages; ~200 MB each with the kernels.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# A request normally takes milliseconds (a preview about 1 s; an upload is
# stored and answered 202); nginx gives up after 30 s (proxy_read_timeout).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Recycle workers now and then so that memory a process accumulates (image
# buffers of previews, fragmentation) is returned to the system. Safe with
# sync workers: no request is dropped (see above).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "100"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Forwarded headers: gunicorn itself reads none (no secure scheme headers,
# so FORWARDED_ALLOW_IPS has nothing to allow). Whether a proxy's
# X-Forwarded-For/-Proto are believed is decided in one place, by the peer:
# STUDIO_TRUSTED_PROXIES (artstudio_site/proxy.py).
forwarded_allow_ips = "127.0.0.1"
secure_scheme_headers: dict[str, str] = {}
# Request line and header limits (gunicorn's defaults, stated): an upload's
# size is capped by the application (artstudio_site/uploads.py).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190


def on_starting(server) -> None:
    """Before the web workers start: fill Numba's cache when it lacks the
    kernels (in a child process), so that each worker's warm-up below loads
    them instead of compiling them, and keeps none of the compiler's
    ~240 MB."""
    import processing

    processing.fill_kernel_cache()


def post_worker_init(worker) -> None:
    """Load the style kernels in the background as each worker starts.

    The live preview renders in the web process; without this the first
    preview a fresh worker serves (at start, and after each max_requests
    recycle) pays ~0.7-1.4 s of Numba start-up, or a whole cold compile.
    A thread, so the worker takes requests at once; the kernels' own lock
    keeps it and a preview request from running a kernel at the same time.
    """
    import threading

    import processing

    threading.Thread(
        target=processing.warm_up, name="kernel-warm-up", daemon=True
    ).start()
