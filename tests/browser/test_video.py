"""A short video from the editor to playback, in headless Chromium.

Upload a clip with sound (the editor previews its first frame), watch it
render, then on its artwork page: the MP4 plays (Debian's Chromium decodes
H.264), seeking works (byte ranges), and the compare shows the original and
the result paused at the same moment under the slider.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_flow import _sign_up
from tests.gallery.clips import clip_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIDEO = "video[data-role=result-video]"


def test_a_clip_uploaded_in_the_editor_plays_on_its_artwork_page(
    studio_server, worker_thread, new_page
):
    from gallery.models import Artwork

    page = new_page()
    _sign_up(page, studio_server, "filmmaker")
    page.set_input_files(
        "#id_image",
        [
            {
                "name": "walk.mp4",
                "mimeType": "video/mp4",
                "buffer": clip_bytes(seconds=3.0, fps=10, width=320, height=240),
            }
        ],
    )
    page.wait_for_selector(".file-list li")
    assert "walk.mp4" in page.inner_text(".file-list")
    page.check("input[data-style-check][value=cartoon]")
    # The preview is of the clip's first frame, grabbed in the browser.
    page.wait_for_selector(
        '.param-panel[data-style="cartoon"] canvas[data-role=preview-canvas]'
    )
    page.click("[data-role=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('.job[data-status=done]').length === 1",
        timeout=120_000,
    )
    artwork = Artwork.objects.select_related("photo").get()
    assert artwork.photo.media == "video" and artwork.photo.frames == 30

    page.goto(f"{studio_server}/artworks/{artwork.pk}/")
    page.wait_for_selector(VIDEO)
    support = page.eval_on_selector(
        VIDEO, "v => v.canPlayType('video/mp4; codecs=\"avc1.42E01E, mp4a.40.2\"')"
    )
    assert support in ("probably", "maybe"), support
    # Muted for the test's autoplay; the page itself leaves the sound on.
    assert page.eval_on_selector(VIDEO, "v => v.muted") is False
    page.eval_on_selector(VIDEO, "v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "s => { const v = document.querySelector(s);"
        " return v.readyState >= 2 && v.currentTime > 0.5 && !v.paused; }",
        arg=VIDEO,
        timeout=20_000,
    )
    size = page.eval_on_selector(VIDEO, "v => [v.videoWidth, v.videoHeight]")
    assert size == [320, 240]
    # Seek near the end: the browser asks for a byte range and plays on.
    page.eval_on_selector(VIDEO, "v => { v.pause(); v.currentTime = 2.2; }")
    page.wait_for_function(
        "s => { const v = document.querySelector(s);"
        " return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - 2.2) < 0.2; }",
        arg=VIDEO,
    )
    screenshot(page, "video-artwork-desktop")

    # Compare at this frame: both videos paused at the player's moment.
    page.click("[data-role=compare-open]")
    page.wait_for_selector("[data-role=moving-compare]:not([hidden])")
    assert page.is_hidden("[data-role=player]")
    moments = page.eval_on_selector(
        "[data-role=moving-compare]",
        "f => [...f.querySelectorAll('video')].map("
        "v => [v.currentTime, v.paused, v.readyState])",
    )
    assert len(moments) == 2
    for current, paused, ready in moments:
        assert abs(current - 2.2) < 0.2 and paused and ready >= 2
    page.focus("[data-role=compare-range]")
    page.keyboard.press("Home")
    position = page.eval_on_selector(
        "[data-role=moving-compare]", "f => f.style.getPropertyValue('--position')"
    )
    assert position == "0%"
    screenshot(page, "video-compare-desktop")
    page.click("[data-role=compare-close]")
    page.wait_for_selector(f"{VIDEO}", state="visible")
    page.watch.assert_clean()
