"""The pages: upload editor, artwork page, gallery filters, Explore, remix,
download formats, retry, translations, and markup a strict CSP accepts."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

import processing
from gallery import services
from gallery.models import Artwork, Photo, Profile
from gallery.pipeline import jobs
from gallery.services import Recipe
from tests.conftest import PASSWORD, create_artworks, upload_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def done_artwork(owner, queue, run_worker):
    (artwork,) = create_artworks(owner, ("oil",))
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == "done"
    return artwork


# Upload editor ---------------------------------------------------------------


def test_upload_page_lists_heic_limits_and_generated_sliders(owner_client):
    response = owner_client.get(reverse("gallery:upload"))
    html = response.content.decode()
    accept = re.search(r'<input type="file"[^>]*accept="([^"]+)"[^>]*>', html)
    assert accept and "multiple" in accept.group(0)
    assert "image/heic" in accept.group(1) and ".heic" in accept.group(1)
    assert "Up to 40.0\xa0MB and 50 megapixels per photo." in html
    for style in processing.STYLES.values():
        assert reverse("gallery:style_sample", args=[style.slug]) in html
        for p in style.params:
            if p.type == "bool":  # an on/off parameter is a check box
                box = re.search(
                    rf'<input type="checkbox" id="param-{style.slug}-{p.name}"'
                    rf"[^>]*>",
                    html,
                )
                assert box, (style.slug, p.name)
                assert ("checked" in box.group(0)) == p.default
                assert f'name="param:{style.slug}:{p.name}"' in html
                continue
            slider = re.search(
                rf'<input type="range" id="param-{style.slug}-{p.name}"[^>]*>', html
            )
            assert slider, (style.slug, p.name)
            for attr in ("min", "max", "step"):
                assert f'{attr}="{getattr(p, attr)}"' in slider.group(0)
            assert f'name="param:{style.slug}:{p.name}"' in html
    config = json.loads(
        re.search(r'id="editor-config"[^>]*>(.*?)</script>', html, re.S).group(1)
    )
    assert [s["slug"] for s in config["styles"]] == list(processing.STYLES)
    assert config["maxBytes"] == 40 * 1024 * 1024
    assert config["urls"]["preview"] == "/api/preview/"
    assert ".heic" in config["types"]


def test_upload_page_shows_quota_usage(owner, owner_client, queue):
    create_artworks(owner)
    html = owner_client.get(reverse("gallery:upload")).content.decode()
    assert re.search(r"[\d.]+\s(KB|bytes) of 500.0\sMB used", html), html
    assert "1 of 500 photos" in html


def test_remix_prefills_the_editor_with_the_recipe(owner, owner_client, queue):
    upload = upload_file()
    (artwork,) = services.artworks_create(
        owner,
        upload,
        processing.inspect(upload),
        [Recipe("cartoon", processing.validate_params("cartoon", {"levels": 3}))],
    )
    html = owner_client.get(f"/upload/?remix={artwork.pk}").content.decode()
    assert f'data-remix-photo="{artwork.photo_id}"' in html
    assert re.search(r'value="cartoon" checked', html)
    assert not re.search(r'value="oil" checked', html)
    number = re.search(r'<input type="number" name="param:cartoon:levels"[^>]*>', html)
    assert 'value="3"' in number.group(0)


@pytest.mark.parametrize("value", ["²", "9" * 5000, "9" * 30])
def test_a_remix_id_that_is_no_number_is_ignored(owner_client, value):
    """``?remix=`` is looked up only when it is 1-18 ASCII digits: ``²``
    (a digit to str.isdigit) and 5000 digits made int() raise, 30 digits
    overflowed the database's integer."""
    response = owner_client.get(f"/upload/?remix={value}")
    assert response.status_code == 200
    assert b"data-remix-photo" not in response.content


def test_remix_of_someone_elses_artwork_is_ignored(owner, other_client, queue):
    (artwork,) = create_artworks(owner)
    html = other_client.get(f"/upload/?remix={artwork.pk}").content.decode()
    assert "data-remix-photo" not in html


def test_api_creates_artworks_from_a_stored_photo(
    owner, owner_client, queue, run_worker, media_root
):
    (first,) = create_artworks(owner)
    files_before = sorted(p.name for p in media_root.rglob("*") if p.is_file())
    response = owner_client.post(
        reverse("gallery:api_artworks"),
        {
            "photo": first.photo_id,
            "style": ["oil", "watercolor"],
            "params": json.dumps({"oil": {"size": 3}}),
        },
    )
    assert response.status_code == 202
    ids = [a["id"] for a in response.json()["artworks"]]
    assert len(ids) == 2
    assert Photo.objects.count() == 1
    # No second copy of the original was written.
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == files_before
    run_worker()
    remixes = Artwork.objects.filter(pk__in=ids).order_by("style")
    assert [(a.style, a.status, a.photo_id) for a in remixes] == [
        ("oil", "done", first.photo_id),
        ("watercolor", "done", first.photo_id),
    ]
    assert remixes[0].params["size"] == 3


def test_api_photo_id_of_another_user_or_bad_params_is_400(
    owner, other_client, owner_client, queue
):
    (artwork,) = create_artworks(owner)
    url = reverse("gallery:api_artworks")
    response = other_client.post(url, {"photo": artwork.photo_id, "style": "oil"})
    assert response.status_code == 400
    assert response.json() == {"error": "No such photo.", "field": "photo"}
    bad = owner_client.post(
        url,
        {"photo": artwork.photo_id, "style": "oil", "params": '{"oil": {"size": 0}}'},
    )
    assert bad.status_code == 400 and bad.json()["field"] == "params"
    no_style = owner_client.post(url, {"photo": artwork.photo_id})
    assert no_style.status_code == 400 and no_style.json()["field"] == "style"
    assert Artwork.objects.count() == 1


# Retry -----------------------------------------------------------------------


def test_retry_requeues_a_failed_artwork_and_it_renders(
    owner, owner_client, queue, run_worker
):
    (artwork,) = create_artworks(owner)
    jobs.fail_for_job(artwork.pk, None, "Worker vanished")
    queue.empty()
    response = owner_client.post(
        reverse("gallery:artwork_retry", args=[artwork.pk]),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["error"] == ""
    assert queue.count == 1
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == "done" and artwork.error == ""
    # Done cannot be retried: a clear refusal, nothing enqueued.
    again = owner_client.post(
        reverse("gallery:artwork_retry", args=[artwork.pk]),
        HTTP_ACCEPT="application/json",
    )
    assert again.status_code == 409 and queue.count == 0
    page = owner_client.post(reverse("gallery:artwork_retry", args=[artwork.pk]))
    assert page.status_code == 302


def test_retry_is_owner_only_and_post_only(owner, other_client, owner_client, queue):
    (artwork,) = create_artworks(owner)
    jobs.fail_for_job(artwork.pk, None, "boom")
    url = reverse("gallery:artwork_retry", args=[artwork.pk])
    assert other_client.post(url).status_code == 404
    assert owner_client.get(url).status_code == 405
    artwork.refresh_from_db()
    assert artwork.status == "failed"


def test_failed_artwork_page_shows_reason_and_retry(owner, owner_client, queue):
    (artwork,) = create_artworks(owner)
    jobs.fail_for_job(artwork.pk, None, "The photo is too dark to draw.")
    html = owner_client.get(artwork.get_absolute_url()).content.decode()
    assert "The photo is too dark to draw." in html
    assert reverse("gallery:artwork_retry", args=[artwork.pk]) in html


# Artwork page and downloads --------------------------------------------------


def test_artwork_page_for_the_owner(owner_client, done_artwork):
    html = owner_client.get(done_artwork.get_absolute_url()).content.decode()
    assert "data-compare" in html and 'data-role="compare-range"' in html
    for p in processing.STYLES["oil"].params:
        value = done_artwork.params[p.name]
        if p.type == "bool":
            value = "On" if value else "Off"
        assert f"<dt>{p.label}</dt><dd>{value}</dd>" in html
    assert f"<dd>{processing.ENGINE_VERSION}</dd>" in html
    assert f"/upload/?remix={done_artwork.pk}" in html
    for fmt in ("jpeg", "png", "webp"):
        assert f"?download=1&amp;format={fmt}" in html
    assert 'id="delete-dialog"' in html


def test_artwork_page_for_a_visitor(other_client, done_artwork):
    services.artwork_set_public(done_artwork, True)
    html = other_client.get(done_artwork.get_absolute_url()).content.decode()
    assert "data-compare" not in html and "remix=" not in html
    assert "delete-dialog" not in html and "Make private" not in html


@pytest.mark.parametrize(
    ("fmt", "pil", "mime"),
    [
        ("png", "PNG", "image/png"),
        ("webp", "WEBP", "image/webp"),
        ("jpeg", "JPEG", "image/jpeg"),
    ],
)
def test_download_in_each_format_at_full_size(
    owner_client, done_artwork, fmt, pil, mime, run_worker
):
    url = reverse("gallery:artwork_media", args=[done_artwork.pk, "result"])
    response = owner_client.get(f"{url}?download=1&format={fmt}")
    if fmt != "jpeg":  # converted by a worker first (503 until then)
        assert response.status_code == 503 and response["Retry-After"] == "2"
        assert "Just a moment" in response.content.decode()
        run_worker()
        response = owner_client.get(f"{url}?download=1&format={fmt}")
    assert response.status_code == 200 and response["Content-Type"] == mime
    assert "attachment" in response["Content-Disposition"]
    ext = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}[fmt]
    assert f'artwork-{done_artwork.pk}-oil{ext}"' in response["Content-Disposition"]
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.format == pil and image.size == (320, 240)


def test_download_with_a_bad_format_is_400(owner_client, done_artwork):
    result = reverse("gallery:artwork_media", args=[done_artwork.pk, "result"])
    thumb = reverse("gallery:artwork_media", args=[done_artwork.pk, "thumbnail"])
    for url in (f"{result}?format=bmp", f"{thumb}?format=png"):
        response = owner_client.get(url)
        assert response.status_code == 400 and response.json()["field"] == "format"


# Gallery and Explore ---------------------------------------------------------


def test_gallery_filters_and_sort(owner, owner_client, queue):
    first = create_artworks(owner, ("pencil", "oil"))
    second = create_artworks(owner, ("oil",))
    jobs.fail_for_job(second[0].pk, None, "nope")
    url = reverse("gallery:my_gallery")

    def ids(query):
        page = owner_client.get(url, query).context["page"]
        return [a.pk for a in page.object_list]

    assert ids({}) == [second[0].pk, first[1].pk, first[0].pk]
    assert ids({"sort": "oldest"}) == [first[0].pk, first[1].pk, second[0].pk]
    assert ids({"style": "oil"}) == [second[0].pk, first[1].pk]
    assert ids({"style": "oil", "status": "failed"}) == [second[0].pk]
    # Unknown values are ignored rather than failing.
    assert ids({"style": "bogus", "status": "x", "sort": "y"}) == ids({})
    html = owner_client.get(url, {"status": "failed"}).content.decode()
    assert '<option value="failed" selected>' in html


def test_gallery_pagination_keeps_the_filters(settings, owner, owner_client, queue):
    settings.STUDIO_PAGE_SIZE = 1
    create_artworks(owner, ("oil",))
    create_artworks(owner, ("oil",))
    html = owner_client.get("/gallery/?style=oil&sort=oldest").content.decode()
    assert 'href="?style=oil&amp;sort=oldest&amp;page=2"' in html
    assert 'loading="lazy"' in html or "placeholder" in html


def test_explore_shows_public_artworks_with_display_names(
    owner, client, done_artwork, queue
):
    Profile.objects.create(user=owner, display_name="Berthe Morisot")
    private = create_artworks(owner)[0]
    html = client.get(reverse("gallery:explore")).content.decode()
    assert "Berthe Morisot" not in html
    services.artwork_set_public(done_artwork, True)
    response = client.get(reverse("gallery:explore"))
    assert list(response.context["page"].object_list) == [done_artwork]
    assert "by Berthe Morisot" in response.content.decode()
    assert f"/artworks/{private.pk}/" not in response.content.decode()


def test_home_shows_a_sample_card_per_style(client):
    html = client.get("/").content.decode()
    for slug in processing.STYLES:
        assert f"/styles/{slug}/sample.jpg" in html


# Languages -------------------------------------------------------------------


def test_accept_language_selects_simplified_chinese(client):
    html = client.get(
        "/explore/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "发现" in html and "我的画廊" not in html  # anonymous nav
    assert "登录" in html


def test_language_switcher_sets_the_language(owner, queue):
    client = Client()
    client.force_login(owner)
    response = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "/gallery/"}
    )
    assert response.status_code == 302 and response["Location"] == "/gallery/"
    html = client.get("/gallery/").content.decode()
    assert "我的画廊" in html and 'name="language"' in html


def _catalogue_sources() -> dict[str, str]:
    """msgid -> its "#:" source references, from the zh-Hans catalogue."""
    root = Path(__file__).resolve().parents[3]
    text = (root / "gallery/locale/zh_Hans/LC_MESSAGES/django.po").read_text()
    sources = {}
    for entry in text.split("\n\n"):
        refs = " ".join(line for line in entry.splitlines() if line.startswith("#:"))
        msgid = re.search(r'^msgid ((?:".*"\n)+)', entry + "\n", re.M)
        if msgid:
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"', msgid.group(1))
            sources[json.loads('"' + "".join(parts) + '"')] = refs
    return sources


def test_every_registry_text_is_extracted_from_processing_and_translated():
    sources = _catalogue_sources()
    with translation.override("zh-hans"):
        for style in processing.STYLES.values():
            for text in (style.label, style.description) + tuple(
                t for p in style.params for t in (p.label, p.help) if t
            ):
                # makemessages found it in processing/ (gettext_noop there).
                assert "processing/" in sources.get(text, ""), f"extract {text!r}"
                assert translation.gettext(text) != text, f"translate {text!r}"


def test_parameter_ranges_come_from_the_registry_not_the_help_texts(owner_client):
    html = owner_client.get(reverse("gallery:upload")).content.decode()
    for style in processing.STYLES.values():
        for p in style.params:
            assert not re.search(r"\(\d[\d.]*-\d", p.help), p.help
            if p.type == "bool":
                continue
            help_text = re.search(
                rf'<p class="hint" id="param-{style.slug}-{p.name}-help">(.*?)</p>',
                html,
                re.S,
            )
            assert f"Range {p.min:g}–{p.max:g}." in help_text.group(1)


def test_dates_are_localised(owner, owner_client, queue):
    (artwork,) = create_artworks(owner)
    en = owner_client.get(artwork.get_absolute_url()).content.decode()
    zh = owner_client.get(
        artwork.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    year = str(artwork.created.year)
    assert re.search(rf"<time[^>]*>[^<]*{year}[^<]*</time>", en)
    assert re.search(rf"<time[^>]*>{year}年", zh)


# Markup that a strict Content-Security-Policy accepts --------------------------


def test_pages_have_no_inline_script_style_or_handlers(
    owner, owner_client, done_artwork
):
    urls = [
        "/",
        "/explore/",
        "/gallery/",
        "/upload/",
        f"/upload/?remix={done_artwork.pk}",
        done_artwork.get_absolute_url(),
        "/accounts/login/",
    ]
    for url in urls:
        html = owner_client.get(url).content.decode()
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert "javascript:" not in html, url
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, (
                url,
                tag,
            )


def test_signup_is_rate_limited_per_address(settings, django_user_model):
    settings.STUDIO_SIGNUP_RATE = 2

    def sign_up(name: str, address: str):
        return Client(REMOTE_ADDR=address).post(
            "/accounts/signup/",
            {"username": name, "password1": PASSWORD, "password2": PASSWORD},
        )

    assert sign_up("farm1", "198.51.100.1").status_code == 302
    assert sign_up("farm2", "198.51.100.1").status_code == 302
    refused = sign_up("farm3", "198.51.100.1")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert not django_user_model.objects.filter(username="farm3").exists()
    # Another network is not affected.
    assert sign_up("elsewhere", "203.0.113.7").status_code == 302


def test_retry_keeps_the_attempt_count_and_stops_at_the_maximum(
    owner, owner_client, queue, settings
):
    """Retrying reset the attempt count, so a photo that kills its worker
    could be retried into out-of-memory kills forever."""
    settings.STUDIO_JOB_MAX_ATTEMPTS = 2
    (artwork,) = create_artworks(owner)
    url = reverse("gallery:artwork_retry", args=[artwork.pk])
    Artwork.objects.filter(pk=artwork.pk).update(attempts=1)
    jobs.fail_for_job(artwork.pk, None, "The worker stopped")
    assert owner_client.post(url, HTTP_ACCEPT="application/json").status_code == 202
    artwork.refresh_from_db()
    assert artwork.attempts == 1  # kept, not reset
    Artwork.objects.filter(pk=artwork.pk).update(attempts=2)
    jobs.fail_for_job(artwork.pk, None, "The worker stopped")
    refused = owner_client.post(url, HTTP_ACCEPT="application/json")
    assert refused.status_code == 409 and "too many times" in refused.json()["error"]
    artwork.refresh_from_db()
    assert artwork.status == "failed"
    assert url not in owner_client.get(artwork.get_absolute_url()).content.decode()


def test_retry_is_rate_limited(
    owner, owner_client, queue, settings, steady_rate_window
):
    settings.STUDIO_RETRY_RATE = 2
    (artwork,) = create_artworks(owner)
    url = reverse("gallery:artwork_retry", args=[artwork.pk])
    for _ in range(2):
        assert owner_client.post(url, HTTP_ACCEPT="application/json").status_code == 409
    limited = owner_client.post(url, HTTP_ACCEPT="application/json")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0


def test_recipe_shows_on_off_parameters_in_words(owner, owner_client, queue):
    upload = upload_file()
    (artwork,) = services.artworks_create(
        owner,
        upload,
        processing.inspect(upload),
        [Recipe("pencil", processing.validate_params("pencil", {"keep_colors": 1}))],
    )
    html = owner_client.get(artwork.get_absolute_url()).content.decode()
    assert "<dt>Keep photo colours</dt><dd>On</dd>" in html.replace("\n", "")
    assert "True" not in html
