"""How often the pages ask about an unfinished artwork (common.js): every
second or so while it renders; while it waits in the queue, a third of its
estimated wait, at most 5 s. Pages polled every 1-1.5 s whatever the wait,
which cost the web side more CPU per photo than a fifth of the engine."""

from __future__ import annotations

import pytest

CASES = [
    ({"status": "processing", "eta_seconds": 30}, 1000, 1000),
    ({"status": "queued", "eta_seconds": 12}, 1000, 4000),
    ({"status": "queued", "eta_seconds": 600}, 1500, 5000),
    ({"status": "queued", "eta_seconds": 1}, 1500, 1500),
    ({"status": "queued", "eta_seconds": None}, 1200, 1200),
    ({"status": "queued"}, 1000, 1000),
]


@pytest.mark.parametrize(("answer", "base", "expected"), CASES)
def test_poll_delay_follows_the_queue_estimate(
    studio_server, new_page, answer, base, expected
):
    page = new_page()
    page.goto(studio_server + "/")
    delay = page.evaluate("([a, b]) => window.studioPollDelay(a, b)", [answer, base])
    assert delay == expected
