"""The page watcher every browser test relies on: it must report a request
that fails on the page being tested, and only forgive one the browser
cancelled because the page navigated on."""

from __future__ import annotations

HANGING = "/static/never-answers.png"


def _add_image(page, url: str) -> None:
    page.evaluate(
        "url => { const i = new Image(); i.src = url; document.body.append(i); }",
        url,
    )


def test_request_failing_on_the_page_is_reported(studio_server, new_page):
    page = new_page()
    page.route("**" + HANGING, lambda route: route.abort("aborted"))
    page.goto(studio_server + "/")
    with page.expect_event("requestfailed"):
        _add_image(page, studio_server + HANGING)
    assert any(HANGING in problem for problem in page.watch.problems)


def test_request_cancelled_by_navigating_away_is_forgiven(studio_server, new_page):
    held: list = []  # routes neither answered nor aborted: still in flight
    page = new_page()
    page.route("**" + HANGING, lambda route: held.append(route))
    page.goto(studio_server + "/")
    with page.expect_event("request", lambda r: HANGING in r.url):
        _add_image(page, studio_server + HANGING)
    with page.expect_event("requestfailed", lambda r: HANGING in r.url):
        page.goto(studio_server + "/accounts/login/")
    page.watch.assert_clean()
