"""Live preview endpoint and engine-rendered style samples."""

from __future__ import annotations

import hashlib
import io
import json
import time

import cv2
import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

import processing
from gallery import preview, services
from gallery.models import Artwork, Photo
from gallery.services import Recipe
from tests.conftest import image_bytes, upload_file

pytestmark = pytest.mark.django_db

URL = "/api/preview/"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _post(client, style="oil", params=None, **data):
    if "image" not in data and "photo" not in data:
        data["image"] = upload_file(image_bytes("JPEG", 1600, 1200))
    payload = {"style": style, **data}
    if params is not None:
        payload["params"] = json.dumps(params)
    return client.post(URL, payload)


def _decode(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def test_preview_is_a_small_jpeg_of_the_upload(owner_client):
    response = _post(owner_client, params={"size": 3})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    image = _decode(response)
    assert image.format == "JPEG" and image.size == (512, 384)
    assert response["X-Preview-Cache"] == "miss"


def test_portrait_and_panorama_keep_the_long_side_under_512(owner_client):
    for size, expected in (((600, 1800), (171, 512)), ((2400, 300), (512, 64))):
        upload = upload_file(image_bytes("PNG", *size), "p.png", "image/png")
        image = _decode(_post(owner_client, style="pencil", image=upload))
        assert max(image.size) == 512 and image.size == pytest.approx(expected, abs=1)


def test_small_photo_is_not_upscaled(owner_client):
    upload = upload_file(image_bytes("JPEG", 200, 150))
    assert _decode(_post(owner_client, image=upload)).size == (200, 150)


def test_same_recipe_is_cached_and_parameters_change_the_pixels(owner_client):
    data = image_bytes("JPEG", 800, 600)
    first = _post(owner_client, params={"size": 2}, image=upload_file(data))
    again = _post(owner_client, params={"size": 2}, image=upload_file(data))
    other = _post(owner_client, params={"size": 9}, image=upload_file(data))
    assert (first["X-Preview-Cache"], again["X-Preview-Cache"]) == ("miss", "hit")
    assert again.content == first.content
    assert other["X-Preview-Cache"] == "miss" and other.content != first.content


def test_preview_cache_never_reveals_another_users_photo(owner_client, other_client):
    data = image_bytes("JPEG", 320, 240)
    assert _post(owner_client, image=upload_file(data))["X-Preview-Cache"] == "miss"
    twin = _post(other_client, image=upload_file(data))
    assert twin.status_code == 200 and twin["X-Preview-Cache"] == "miss"


def test_preview_matches_the_engine_on_the_scaled_photo(owner_client):
    data = image_bytes("PNG", 640, 480)
    response = _post(
        owner_client,
        style="cartoon",
        params={"levels": 4},
        image=upload_file(data, "p.png", "image/png"),
    )
    small = processing.make_thumbnail(processing.decode(data), 512)
    params = processing.validate_params("cartoon", {"levels": 4})
    expected = processing.render(small, "cartoon", **params)
    got = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert got.shape == expected.shape
    # JPEG at quality 85: close, not equal.
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 6


def test_preview_of_a_stored_photo_by_id(owner, owner_client, other_client, queue):
    upload = upload_file(image_bytes("JPEG", 1024, 768))
    (artwork,) = services.artworks_create(
        owner, upload, processing.inspect(upload), [Recipe("oil", {"size": 7})]
    )
    response = _post(owner_client, style="watercolor", photo=artwork.photo_id)
    assert response.status_code == 200 and _decode(response).size == (512, 384)
    # The small source is cached: later slider moves do not read storage.
    default_storage.delete(artwork.photo.original.name)
    moved = _post(
        owner_client,
        style="watercolor",
        params={"sigma_r": 0.2},
        photo=artwork.photo_id,
    )
    assert moved.status_code == 200 and moved["X-Preview-Cache"] == "miss"
    # Someone else's photo id reads like a missing one.
    refused = _post(other_client, style="watercolor", photo=artwork.photo_id)
    assert refused.status_code == 400
    assert refused.json() == {"error": "No such photo.", "field": "photo"}


@pytest.mark.parametrize(
    ("data", "field", "needle"),
    [
        ({"style": "nope"}, "style", "Unknown style"),
        ({"style": "oil", "params": "not json"}, "params", "JSON object"),
        ({"style": "oil", "params": "[1]"}, "params", "JSON object"),
        ({"style": "oil", "params": '{"size": 99}'}, "params", "size must be between"),
        ({"style": "oil", "params": '{"brush": 3}'}, "params", "Unknown parameter"),
        ({"style": "oil", "photo": "abc"}, "photo", "whole number"),
    ],
)
def test_bad_input_is_a_clear_400(owner_client, data, field, needle):
    data = {**data, "image": upload_file()}
    response = owner_client.post(URL, data)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and needle in body["error"]


def test_photo_and_image_are_exclusive_and_one_is_needed(owner_client):
    neither = owner_client.post(URL, {"style": "oil"})
    assert neither.status_code == 400
    assert neither.json()["error"] == "Send either a photo id or an image."
    both = owner_client.post(URL, {"style": "oil", "photo": 1, "image": upload_file()})
    assert both.status_code == 400


def test_unreadable_image_is_refused(owner_client):
    response = owner_client.post(
        URL, {"style": "oil", "image": upload_file(b"not an image at all", "x.jpg")}
    )
    assert response.status_code == 400 and response.json()["field"] == "image"


def test_anonymous_and_get_are_refused(owner_client):
    from django.test import Client

    anonymous = Client().post(URL, {"style": "oil", "image": upload_file()})
    assert anonymous.status_code == 401
    assert owner_client.get(URL).status_code == 405


def test_rate_limit_per_user_answers_429_with_retry_after(
    steady_rate_window, settings, owner_client, other_client
):
    settings.STUDIO_PREVIEW_RATE = 2
    small = image_bytes("JPEG", 64, 48)
    for _ in range(2):
        assert _post(owner_client, image=upload_file(small)).status_code == 200
    limited = _post(owner_client, image=upload_file(small))
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many previews" in limited.json()["error"]
    # The budget is per user.
    assert _post(other_client, image=upload_file(small)).status_code == 200


# Style samples ---------------------------------------------------------------


@pytest.mark.parametrize("slug", list(processing.STYLES))
def test_style_sample_is_rendered_by_the_engine(client, media_root, slug):
    response = client.get(reverse("gallery:style_sample", args=[slug]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert "public" in response["Cache-Control"]
    spec = processing.STYLES[slug]
    expected = processing.encode(
        processing.render(preview.sample_scene(), slug, **spec.defaults()), "jpeg", 85
    )
    assert response.content == expected
    assert Image.open(io.BytesIO(response.content)).size == preview.SAMPLE_SIZE
    assert (media_root / preview.sample_name(slug)).read_bytes() == expected


def test_style_sample_is_stored_once_and_reused(client, media_root):
    url = reverse("gallery:style_sample", args=["oil"])
    client.get(url)
    stored = media_root / preview.sample_name("oil")
    stored.write_bytes(b"marker: served from storage")
    assert client.get(url).content == b"marker: served from storage"
    assert len(list(stored.parent.iterdir())) == 1


def test_unknown_style_sample_is_404(client):
    assert client.get("/styles/nope/sample.jpg").status_code == 404


# Bounded decodes (issue 11 item 1) --------------------------------------------


def _flat_gray16_png(side: int) -> bytes:
    """The preview bomb: a flat 16-bit gray PNG, ~111 KB for 7000x7000."""
    buffer = io.BytesIO()
    Image.new("I;16", (side, side), 40000).save(buffer, "PNG")
    return buffer.getvalue()


def _rss_kib(field: str = "VmRSS") -> int:
    for line in open("/proc/self/status"):
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


class PeakRSS:
    """Peak resident size of this process while the block runs: the kernel's
    VmHWM after resetting it (Linux >= 4.0), else a 5 ms sampling thread."""

    def __enter__(self):
        import threading

        self.before = _rss_kib()
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.hwm = True
        except OSError:
            self.hwm = False
        self.peak = self.before
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(0.005):
                self.peak = max(self.peak, _rss_kib())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self.hwm:
            self.peak = max(self.peak, _rss_kib("VmHWM"))
        self.growth_mib = (self.peak - self.before) / 1024


def test_preview_bomb_is_refused_from_the_header_in_bounded_memory(owner_client):
    data = _flat_gray16_png(7000)
    assert len(data) < 150_000
    _post(owner_client, image=upload_file(image_bytes("PNG", 64, 48), "w.png"))
    with PeakRSS() as peak:
        started = time.perf_counter()
        response = _post(owner_client, image=upload_file(data, "bomb.png", "image/png"))
        elapsed = time.perf_counter() - started
    assert response.status_code == 400
    assert response.json()["field"] == "image"
    assert "too large to preview" in response.json()["error"]
    assert elapsed < 1.0
    assert peak.growth_mib < 150, peak.growth_mib


def test_progressive_jpeg_bomb_is_refused_in_bounded_memory(owner_client):
    """A progressive JPEG passed the budget after its DCT downscale (6000 px
    -> 750 px), but libjpeg keeps all its coefficients: ~200 MB for this one,
    ~280 MB at 7000x7000 (found by benchmarks/bench_abuse.py)."""
    gradient = Image.linear_gradient("L").resize((6000, 6000))
    buffer = io.BytesIO()
    Image.merge("RGB", (gradient, gradient.rotate(90), gradient)).save(
        buffer, "JPEG", quality=90, progressive=True, subsampling=0
    )
    del gradient
    _post(owner_client, image=upload_file(image_bytes("PNG", 64, 48), "w.png"))
    with PeakRSS() as peak:
        response = _post(owner_client, image=upload_file(buffer.getvalue(), "p.jpg"))
    assert response.status_code == 400
    assert "too large to preview" in response.json()["error"]
    assert peak.growth_mib < 150, peak.growth_mib


def test_previews_within_the_budget_decode_in_bounded_memory(owner_client):
    # Just under 4 MP of 16-bit gray: decoded, through no int64 temporaries.
    data = _flat_gray16_png(1990)
    with PeakRSS() as peak:
        response = _post(owner_client, image=upload_file(data, "g.png", "image/png"))
    assert response.status_code == 200
    assert peak.growth_mib < 150, peak.growth_mib


def test_every_decode_slot_taken_answers_503_with_retry_after(
    owner_client, settings, monkeypatch
):
    monkeypatch.setattr(preview, "DECODE_WAIT", 0.05)
    slots = preview._decode_slots()
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        response = _post(owner_client)
    finally:
        for _ in range(taken):
            slots.release()
    assert taken == settings.STUDIO_PREVIEW_DECODES
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert _post(owner_client).status_code == 200  # free again


def test_source_cache_holds_a_compact_jpeg(owner, owner_client):
    data = image_bytes("PNG", 1600, 1200)
    assert _post(owner_client, image=upload_file(data, "p.png", "image/png"))
    # Cached per user (a hit must not reveal someone else's photo).
    cached = cache.get(f"preview-src:{owner.pk}:{hashlib.sha256(data).hexdigest()}")
    assert cached[:3] == b"\xff\xd8\xff" and len(cached) < 100_000


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("size", "made_when"),
    [((1600, 1200), Artwork.Status.DONE), ((2400, 2000), Artwork.Status.PROCESSING)],
    ids=["small-after-done", "large-before-render"],
)
def test_the_proxy_of_a_small_photo_is_made_after_done(
    owner, queue, run_worker, monkeypatch, size, made_when
):
    """Up to proxy.DEFER_PIXELS the job keeps the decoded photo and makes
    the proxy once the artwork is done (off the path to "done"); a larger
    photo's is made before its render (the photo is not held beside its
    result). Either way from the same pixels."""
    from gallery.pipeline import proxy

    seen = []
    real = proxy.proxy_pixels

    def watched(image):
        seen.append(Artwork.objects.get(pk=artwork.pk).status)
        return real(image)

    monkeypatch.setattr(proxy, "proxy_pixels", watched)
    data = image_bytes("JPEG", *size)
    (artwork,) = services.artworks_create(
        owner,
        upload_file(data, "p.jpg", "image/jpeg"),
        processing.inspect(data),
        [Recipe("pencil", {})],
    )
    run_worker()
    assert seen == [made_when]
    photo = Photo.objects.get(pk=artwork.photo_id)
    with photo.preview_proxy.open("rb") as handle:
        stored = np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))
    expected = real(processing.decode(data))[..., ::-1]
    assert stored.shape == expected.shape
    assert np.abs(stored.astype(int) - expected).mean() < 2  # JPEG at q95


@pytest.mark.django_db(transaction=True)
def test_render_job_stores_the_proxy_once_and_previews_use_it(
    owner, owner_client, queue, run_worker
):
    # A 4.8 MP PNG: above the preview budget, so until the proxy exists a
    # preview of the stored photo is refused rather than decoded.
    data = image_bytes("PNG", 2400, 2000)
    upload = upload_file(data, "big.png", "image/png")
    artworks = services.artworks_create(
        owner,
        upload,
        processing.inspect(data),
        [Recipe("oil", {"size": 2, "dyn_ratio": 1}), Recipe("pencil", {})],
    )
    photo_id = artworks[0].photo_id
    refused = _post(owner_client, style="watercolor", photo=photo_id)
    assert (
        refused.status_code == 400 and "too large to preview" in refused.json()["error"]
    )

    run_worker()
    photo = Photo.objects.get(pk=photo_id)
    assert photo.preview_proxy.name.startswith("previews/")
    with photo.preview_proxy.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert stored.format == "JPEG" and stored.size == (512, 427)
    # Two jobs of one photo: one proxy file.
    proxies = [n for n in default_storage.listdir("previews")[0]]
    assert len(proxies) == 1

    default_storage.delete(photo.original.name)  # the proxy is enough
    cache.clear()
    response = _post(owner_client, style="watercolor", photo=photo_id)
    assert response.status_code == 200 and _decode(response).size == (512, 427)
