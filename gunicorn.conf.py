"""gunicorn settings shared by `make run` and the container."""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Uploads of large photos over slow links need more than the 30 s default,
# but a stuck request must not hold a thread forever.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so slow leaks cannot accumulate.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "100"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Forwarded headers: gunicorn itself never turns X-Forwarded-Proto into
# "https". Whether a proxy's header is believed is decided in one place,
# Django's SECURE_PROXY_SSL_HEADER, set only when STUDIO_PROXY_SSL_HEADER
# names it; otherwise any client could claim HTTPS. forwarded_allow_ips still
# limits which peers may set gunicorn's own forwarded headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
secure_scheme_headers: dict[str, str] = {}
# Request line and header limits (gunicorn's defaults, stated): an upload's
# size is capped by the application (artstudio_site/uploads.py).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190


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
