# Two commands a person needs: `make run` and `make test`. Everything else
# (the virtualenv, packages, migrations, static files) is set up on the way.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
export PORT

.PHONY: run test bench bench-load bench-preview bench-cleanup chromium lint format migrate static clean

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

run: migrate static
	$(PY) -m artstudio_site.launcher run

# The browser tests drive Debian's Chromium through Playwright.
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

test: $(VENV)/.dev static chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m artstudio_site.launcher with-redis -- $(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) benchmarks/bench_engine.py
	$(PY) -m artstudio_site.launcher with-redis -- $(PY) benchmarks/bench_job_memory.py
	$(MAKE) bench-preview

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

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
