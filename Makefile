# Two commands a person needs: `make run` and `make test`. Everything else
# (the virtualenv, packages, migrations, static files) is set up on the way.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
export PORT

.PHONY: run dev test test-soak bench bench-video bench-load bench-preview bench-cleanup bench-recycle bench-abuse chromium nginx lint format migrate static clean

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput

static: $(VENV)/.runtime
	$(PY) manage.py collectstatic --noinput --verbosity 0

# Production mode on loopback (DEBUG off, a secret key generated once into
# var/). STUDIO_PROXY=nginx puts the project's nginx config in front.
run: migrate static $(if $(filter nginx,$(STUDIO_PROXY)),nginx)
	$(PY) -m artstudio_site.launcher run

# Development mode: debug pages, static files not cached.
dev:
	DEBUG=1 $(MAKE) run

# The browser tests drive Debian's Chromium through Playwright.
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The reverse proxy (deploy/nginx): Debian's nginx, run by the tests and by
# `STUDIO_PROXY=nginx make run` from a private prefix (no system service).
nginx:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx)

# The whole suite except the soak tests (minutes of stack restarts), which
# `make test-soak` runs on their own, bounded; CI runs both.
PYTEST_ARGS ?= -m "not soak"
test: $(VENV)/.dev static chromium nginx
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m artstudio_site.launcher with-redis -- $(PY) -m pytest $(PYTEST_ARGS)

test-soak: $(VENV)/.dev static nginx
	timeout 900 $(PY) -m artstudio_site.launcher with-redis -- $(PY) -m pytest -m soak

bench: $(VENV)/.dev
	$(PY) benchmarks/bench_engine.py
	$(PY) -m artstudio_site.launcher with-redis -- $(PY) benchmarks/bench_job_memory.py
	$(MAKE) bench-preview
	$(MAKE) bench-video

# Styling a 10 s 1280x720 30 fps clip with sound, per style in a fresh process:
# seconds and ratio to the clip (targets 1.5x filters, 4x strokes), peak RSS
# (< 500 MB), MP4 size, flicker on the still background (<= 1.5).
bench-video: $(VENV)/.dev
	$(PY) benchmarks/bench_video.py

# Live-preview latency per style on a 2 MP photo (target p95 < 300 ms).
bench-preview: $(VENV)/.dev
	$(PY) -m artstudio_site.launcher with-redis -- $(PY) benchmarks/bench_preview.py

# The whole pipeline under load: the stack on loopback (gunicorn, 2 workers),
# 10 clients, 200 photos of 2 MP. Prints lost jobs, throughput, latencies, RSS,
# then the engine alone on the same photos and the pipeline's efficiency.
bench-load: $(VENV)/.dev
	$(PY) benchmarks/bench_load.py

# cleanup_media --older-than 30d on seeded databases of 5k-20k photos, each
# in a throw-away var dir: rows/s per size (should stay flat), unlink time, RSS.
bench-cleanup: $(VENV)/.dev
	$(PY) benchmarks/bench_cleanup.py

# Requests lost at gunicorn worker recycles, per worker class, with and
# without nginx in front (the measurement behind gunicorn.conf.py's choice).
bench-recycle: $(VENV)/.dev static nginx
	$(PY) benchmarks/bench_recycle.py

# The benchmark under attack: the stack behind nginx on loopback, 5 members
# for 60 s, then 60 s more while one attacker runs every attack of issue 11
# at once. Prints both phases side by side (latencies, errors, lost
# artworks, attacker successes, memory, CPU per attack kind) and PASS/FAIL.
bench-abuse: $(VENV)/.dev static nginx
	$(PY) benchmarks/bench_abuse.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
