"""Browser fixtures: a live server that serves static files through WhiteNoise
(as production does), a real rq worker in a thread, and headless Chromium
driven by Playwright that records console errors and failed requests."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
HASHED_STATIC = re.compile(r"/static/.+\.[0-9a-f]{12}\.[a-z0-9]+$")


@pytest.fixture(autouse=True)
def allow_orm_beside_playwright(monkeypatch):
    """Playwright's sync API keeps an asyncio loop in this thread; the ORM
    calls the tests make between page steps are still plain synchronous
    calls. Set for browser tests only: a process-wide setting would leak into
    other tests' subprocesses (``check --deploy`` warns about it)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def studio_server(transactional_db, settings):
    """Django's live server thread without the test static handler.

    pytest-django's ``live_server`` serves /static/ with Django's finders, which
    know only the unhashed names; here requests reach the real middleware, so
    WhiteNoise serves the collected, hashed files exactly as in production.
    """
    from django.test.testcases import LiveServerThread

    settings.DEBUG = False
    thread = LiveServerThread("127.0.0.1", static_handler=lambda app: app, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture
def worker_thread(queue):
    """A real rq worker running jobs in this process until the test ends.

    Like the studio's worker (gallery.pipeline.workers.StudioWorker), it compiles or
    loads the style kernels before taking a job; on a clean clone the cold
    compile takes ~20 s, which must not count against a page's timeouts."""
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    import processing

    processing.warm_up()

    class ThreadWorker(SimpleWorker):
        # Signals only work in the main thread: time jobs out with a timer
        # and leave the process's signal handlers alone.
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:
            pass

    stop = threading.Event()

    def loop() -> None:
        from django.db import connection

        while not stop.is_set():
            ThreadWorker([queue], connection=queue.connection).work(
                burst=True, logging_level="WARNING"
            )
            stop.wait(0.2)
        connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    # Module scope, not session: Playwright's sync API keeps an asyncio loop
    # running in this thread until it stops, and Django refuses ORM calls
    # while one runs, so it must be gone before other test modules start.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


class PageWatch:
    """Collects what must not happen on a page: console errors, failed
    requests, error responses, and static assets without a hashed name."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.static_urls: list[str] = []
        # Which document each request belongs to: a main-frame navigation
        # starts a new one, and the browser cancels what the old one still
        # had in flight (ERR_ABORTED). That is leaving a page, not a fault.
        self.document = 0
        self.request_document: dict[object, int] = {}
        # Where the latest main-frame navigation goes: until it commits,
        # page.url still names the page being left.
        self.target = ""

    def attach(self, page) -> None:
        page.on("request", lambda request: self._request(page, request))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error" and self.problems.append(f"console: {msg.text}")
            ),
        )
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda request: self._failed(page, request))
        page.on("response", self._response)

    def _request(self, page, request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            self.document += 1
            self.target = request.url
        self.request_document[request] = self.document

    def _failed(self, page, request) -> None:
        # A request cancelled because the page navigated on (a lazy thumbnail
        # still loading, Chromium's own favicon fetch) is not a failure; a
        # missing file still shows up as an HTTP error response. A request
        # the old page made just after the navigation began is counted in
        # the new document, but names the old page as its referrer, not the
        # page navigated to (page.url names the old page until the
        # navigation commits).
        aborted = "ERR_ABORTED" in (request.failure or "")
        started_in = self.request_document.get(request, self.document)
        referrer = request.headers.get("referer", "").split("#")[0]
        going_to = (self.target or page.url).split("#")[0]
        left_behind = bool(referrer) and referrer != going_to
        if aborted and (
            started_in < self.document or left_behind or "favicon" in request.url
        ):
            return
        self.problems.append(f"failed: {request.url} {request.failure}")

    def _response(self, response) -> None:
        url = response.url.split("?")[0]
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")
        if "/static/" in url:
            self.static_urls.append(url)
            if response.status != 200 or not HASHED_STATIC.search(url):
                self.problems.append(f"static asset {url} -> {response.status}")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


@pytest.fixture
def new_page(browser):
    """Open pages in fresh contexts; every page is watched."""
    contexts = []
    watches: list[PageWatch] = []

    def make(width: int = 1280, height: int = 900, locale: str = "en-US"):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale=locale,
            accept_downloads=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        watch = PageWatch()
        watch.attach(page)
        watches.append(watch)
        page.watch = watch
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def copy_artifact(src: Path, dest_dir: Path) -> None:
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest_dir / src.name)
