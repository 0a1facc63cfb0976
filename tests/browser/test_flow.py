"""The whole gallery as a person uses it, in headless Chromium.

Sign up, upload two photos, pick two styles, watch the live preview follow
a slider, submit, watch four artworks finish, compare, download, share,
see it on Explore as another user and report it. Then the Chinese pages and
the phone width. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import re

import pytest
from django.urls import NoReverseMatch, reverse
from PIL import Image

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD, image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _photo(name: str, seed_size: tuple[int, int]) -> dict:
    width, height = seed_size
    return {
        "name": name,
        "mimeType": "image/jpeg",
        "buffer": image_bytes("JPEG", width, height, quality=90),
    }


def _canvas_data(page, selector: str) -> str:
    return page.eval_on_selector(selector, "c => c.toDataURL('image/png')")


def _sign_up(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/upload/$"))


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/gallery/$"))


def test_upload_preview_render_share_report(
    studio_server, worker_thread, new_page, django_user_model
):
    from gallery.models import Artwork, Profile

    reader = django_user_model.objects.create_user("reader", password=PASSWORD)
    page = new_page()
    page.goto(studio_server + "/")
    page.wait_for_load_state("networkidle")
    screenshot(page, "home-desktop")
    _sign_up(page, studio_server, "painter")
    Profile.objects.update_or_create(
        user=django_user_model.objects.get(username="painter"),
        defaults={"display_name": "Claude Monet"},
    )

    # Two photos through the plain file input; both are listed.
    page.set_input_files(
        "#id_image",
        [_photo("garden.jpg", (640, 480)), _photo("harbour.jpg", (480, 640))],
    )
    page.wait_for_selector(".file-list li:nth-child(2)")
    assert "garden.jpg" in page.inner_text(".file-list")

    # Two styles; each shows its sliders and a preview of the first photo.
    page.check("input[data-style-check][value=pencil]")
    page.check("input[data-style-check][value=oil]")
    oil = '.param-panel[data-style="oil"]'
    page.wait_for_selector(f"{oil} canvas[data-role=preview-canvas]")
    page.wait_for_function(
        "s => !document.querySelector(s).classList.contains('preview-loading')",
        arg=oil,
    )
    before = _canvas_data(page, f"{oil} canvas")
    version = page.get_attribute(f"{oil} canvas", "data-version")
    assert page.inner_text("[data-role=summary]") == (
        "2 photos × 2 styles = 4 artworks"
    )

    # Move the brush-size slider with the keyboard; the preview follows.
    slider = page.locator(f"{oil} input[type=range]").first
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert page.input_value(f"{oil} input[type=number]") == "12"
    page.wait_for_function(
        "([s, v]) => { const c = document.querySelector(s + ' canvas');"
        " return c.dataset.version !== v &&"
        " !document.querySelector(s).classList.contains('preview-loading'); }",
        arg=[oil, version],
    )
    assert _canvas_data(page, f"{oil} canvas") != before
    page.wait_for_load_state("networkidle")
    screenshot(page, "upload-desktop")

    # Submit: two uploads with progress, then four artworks reach done.
    page.click("[data-role=submit]")
    page.wait_for_selector(".job-list .job", state="attached")
    page.wait_for_function(
        "() => document.querySelectorAll('.job[data-status=done]').length === 4",
        timeout=90_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.job img')].filter("
        "i => i.complete && i.naturalWidth > 0).length === 4"
    )
    assert page.eval_on_selector("[data-role=upload-bar]", "b => b.value") == 100
    screenshot(page, "progress-desktop")
    assert Artwork.objects.filter(status="done").count() == 4
    oil_art = Artwork.objects.filter(style="oil").order_by("id").first()
    assert oil_art.params["size"] == 12

    # The artwork page: compare by dragging and by keyboard.
    page.goto(f"{studio_server}/artworks/{oil_art.pk}/")
    page.wait_for_selector("figure.compare img.compare-after")
    page.wait_for_function(
        "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
    )
    box = page.locator("figure.compare").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(
        box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2, steps=8
    )
    page.mouse.up()
    position = page.eval_on_selector(
        "figure.compare", "f => f.style.getPropertyValue('--position')"
    )
    assert position.endswith("%") and 15 <= float(position[:-1]) <= 25
    page.focus("[data-role=compare-range]")
    page.keyboard.press("End")
    assert page.input_value("[data-role=compare-range]") == "100"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    assert page.input_value("[data-role=compare-range]") == "1"
    page.keyboard.press("PageUp")
    for _ in range(49):
        page.keyboard.press("ArrowRight")
    screenshot(page, "artwork-desktop")

    # Download at full size as PNG.
    with page.expect_download() as download_info:
        page.click("a[data-format=png]")
    download = download_info.value
    assert download.suggested_filename.endswith(".png")
    with open(download.path(), "rb") as handle:
        png = Image.open(io.BytesIO(handle.read()))
    assert png.format == "PNG" and png.size == (640, 480)

    # Share it.
    page.click("text=Make public")
    page.wait_for_selector("text=The artwork is now public.")
    page.watch.assert_clean()

    # Another user finds it on Explore with the author's display name.
    other = new_page()
    _sign_in(other, studio_server, "reader")
    other.goto(f"{studio_server}/explore/")
    card = other.locator(f'a[href="/artworks/{oil_art.pk}/"]')
    assert "Claude Monet" in card.inner_text()
    card.click()
    other.wait_for_url(re.compile(rf"/artworks/{oil_art.pk}/$"))
    assert other.locator("figure.compare").count() == 0
    assert other.locator("text=Make public").count() == 0
    screenshot(other, "artwork-visitor")
    try:
        reverse("gallery:artwork_report", args=[oil_art.pk])
    except NoReverseMatch:
        # The moderation view is not there yet: no button pointing nowhere.
        assert other.locator("[data-open-dialog=report-dialog]").count() == 0
    else:
        other.click("[data-open-dialog=report-dialog]")
        assert other.evaluate("document.activeElement.id") == "report-reason"
        other.fill("#report-reason", "Not a painting of mine, copied.")
        other.click("#report-dialog button[type=submit]")
        other.wait_for_load_state()
        from gallery.models import Report

        assert Report.objects.filter(artwork=oil_art, reporter=reader).exists()
    other.watch.assert_clean()


def _done_artwork(user):
    """A finished artwork made through the real service and worker thread."""
    import time

    import processing
    from gallery import services
    from gallery.models import Artwork
    from gallery.services import Recipe
    from tests.conftest import upload_file

    upload = upload_file(image_bytes("JPEG", 1200, 900))
    (artwork,) = services.artworks_create(
        user,
        upload,
        processing.inspect(upload),
        [Recipe("watercolor", processing.validate_params("watercolor", {}))],
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        artwork.refresh_from_db()
        if artwork.status == Artwork.Status.DONE:
            return artwork
        time.sleep(0.2)
    raise AssertionError(f"artwork ended {artwork.status}: {artwork.error}")


ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
# Names that stay as they are in Chinese: file formats and units.
NOT_TRANSLATED = {"JPEG", "PNG", "WebP", "GIF", "HEIC", "MP4", "MOV", "WebM"}


def _english_words(text: str) -> set[str]:
    return set(ENGLISH_WORD.findall(text)) - NOT_TRANSLATED


def test_chinese_pages_follow_accept_language_and_switcher(
    studio_server, new_page, django_user_model
):
    django_user_model.objects.create_user("lihua", password=PASSWORD)
    page = new_page(locale="zh-CN")
    _sign_in(page, studio_server, "lihua")
    page.goto(f"{studio_server}/upload/")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "zh-hans"
    nav = page.inner_text("nav.site-nav")
    assert "我的画廊" in nav and "上传" in nav
    assert _english_words(nav) == set()
    page.check("input[data-style-check][value=oil]")
    page.wait_for_selector('.param-panel[data-style="oil"]:not([hidden])')
    main = page.inner_text("main")
    assert "铅笔素描" in main and "笔刷大小" in main
    assert _english_words(main) == set()
    screenshot(page, "upload-zh-hans")

    # The switcher changes the language for this session.
    page.select_option("#language-select", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert "My gallery" in page.inner_text("nav.site-nav")
    page.watch.assert_clean()


@pytest.mark.parametrize("path", ["/", "/gallery/", "/upload/", "artwork"])
def test_phone_width_has_no_horizontal_scrolling(
    studio_server, worker_thread, new_page, django_user_model, path
):
    user = django_user_model.objects.create_user("phone", password=PASSWORD)
    if path == "artwork":
        path = f"/artworks/{_done_artwork(user).pk}/"
    page = new_page(width=375, height=740)
    _sign_in(page, studio_server, "phone")
    page.goto(studio_server + path)
    if path == "/upload/":
        page.set_input_files(
            "#id_image",
            [
                _photo(
                    "a-rather-long-file-name-from-a-phone-camera-20240101.jpg",
                    (400, 300),
                )
            ],
        )
        page.check("input[data-style-check][value=cartoon]")
        page.wait_for_selector('.param-panel[data-style="cartoon"] canvas')
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - window.innerWidth"
    )
    name = "home" if path == "/" else path.strip("/").split("/")[0]
    screenshot(page, f"{name}-phone")
    assert overflow <= 0
    page.watch.assert_clean()
