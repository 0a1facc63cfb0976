"""A share link as people use it: the owner creates it on the artwork page,
a friend opens it in a fresh browser (no session, no cookies) and sees the
artwork and its recipe, never the original; after "Revoke all links" the
same address is gone. Also: the presets page, the account page and the API
docs render without console errors under the site's CSP."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_flow import _done_artwork, _sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_share_link_opens_in_a_fresh_context_without_session(
    studio_server, worker_thread, new_page, django_user_model
):
    from gallery.models import Profile

    owner = django_user_model.objects.create_user("monet", password=PASSWORD)
    Profile.objects.create(user=owner, display_name="Claude Monet")
    artwork = _done_artwork(owner)

    page = new_page()
    _sign_in(page, studio_server, "monet")
    # My gallery's lazy thumbnails finish before the next navigation.
    page.wait_for_load_state("networkidle")
    page.goto(f"{studio_server}/artworks/{artwork.pk}/")
    page.select_option("#share-days", "7")
    page.click("[data-role=create-share]")
    page.wait_for_selector("[data-role=share-url]")
    url = page.input_value("[data-role=share-url]")
    assert re.match(rf"{re.escape(studio_server)}/s/[\w-]{{20,}}/$", url)
    page.click("[data-copy='#share-link-1']")
    screenshot(page, "share-owner")

    friend = new_page()  # a new context: no cookies, no session
    assert friend.context.cookies() == []
    friend.goto(url)
    friend.wait_for_load_state("networkidle")
    image = friend.locator("[data-role=shared-result]")
    assert friend.evaluate(
        "img => img.complete && img.naturalWidth > 0", image.element_handle()
    )
    assert "Claude Monet" in friend.inner_text("[data-role=author]")
    assert "Watercolour" in friend.inner_text(
        "main"
    ) or "Watercolor" in friend.inner_text("main")
    html = friend.content()
    assert "/original/" not in html
    assert friend.get_attribute('meta[name="robots"]', "content").startswith("noindex")
    og_image = friend.get_attribute('meta[property="og:image"]', "content")
    assert og_image.startswith(studio_server + "/shared/media/")
    # A link-preview fetcher: a request with no session at all.
    preview = friend.request.get(og_image)
    assert preview.status == 200 and preview.headers["content-type"] == "image/jpeg"
    screenshot(friend, "share-friend")
    friend.watch.assert_clean()

    page.click("[data-role=revoke-shares]")
    page.wait_for_selector("[data-role=share-url]", state="detached")
    gone = friend.context.new_page().goto(url)
    assert gone.status == 404
    page.watch.assert_clean()


def test_presets_account_and_api_docs_pages(
    studio_server, worker_thread, new_page, django_user_model
):
    user = django_user_model.objects.create_user("sisley", password=PASSWORD)
    artwork = _done_artwork(user)
    page = new_page()
    _sign_in(page, studio_server, "sisley")
    page.wait_for_load_state("networkidle")

    page.goto(f"{studio_server}/artworks/{artwork.pk}/")
    page.fill("#preset-name", "Wet paper")
    page.click(".preset-form button[type=submit]")
    page.wait_for_selector(".message")
    page.wait_for_load_state("networkidle")
    page.goto(f"{studio_server}/presets/")
    link = page.input_value("[data-role=preset-link]")
    assert "style=watercolor" in link
    screenshot(page, "presets")

    # The editor applies a saved preset and saves a new one.
    page.goto(f"{studio_server}/upload/")
    page.select_option("[data-role=preset-select]", label="Wet paper")
    page.wait_for_selector('.param-panel[data-style="watercolor"]:not([hidden])')
    panel = '.param-panel[data-style="oil"]'
    page.check("input[data-style-check][value=oil]")
    page.fill(f"{panel} [data-role=preset-name]", "Thick oil")
    page.click(f"{panel} [data-role=save-preset-button]")
    page.wait_for_function(
        "s => document.querySelector(s).textContent.includes('Thick oil')",
        arg=f"{panel} [data-role=save-preset-status]",
    )
    assert "Thick oil" in page.inner_text("[data-role=preset-select]")

    page.goto(f"{studio_server}/account/")
    page.fill("#id_name", "backup script")
    page.click("#tokens button[type=submit]")
    secret = page.input_value("[data-role=token-secret]")
    assert secret.startswith("ias_")
    screenshot(page, "account")
    api = page.context.request.get(
        f"{studio_server}/api/presets/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert api.status == 200 and len(api.json()["presets"]) == 2

    page.goto(f"{studio_server}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert "createArtworks" in page.content() or "/api/artworks/" in page.inner_text(
        "body"
    )
    screenshot(page, "api-docs")
    page.watch.assert_clean()
