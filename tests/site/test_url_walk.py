"""Walk every URL pattern the resolver knows, as a second user and as an
anonymous visitor, with the real ids of the owner's private objects filled
in, with GET and POST. Nothing may answer 500, nothing may show or change
the owner's things.

New views are covered automatically: the walk reads the URL conf, and a
pattern it cannot build a URL for fails the test until a value is added to
``VALUES`` below.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.admindocs.views import extract_views_from_urlpatterns
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import Resolver404, get_resolver, resolve

import processing
from gallery import services
from gallery.models import Artwork, Photo
from tests.conftest import PASSWORD, image_bytes, upload_file

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_NAME = "secret-beach-4f1c9e.jpg"
OWNER_NAME = "owner-7c1e9b"
ALLOWED_REFUSALS = {302, 400, 401, 403, 404, 405}


@pytest.fixture
def private_world(django_user_model, queue, run_worker):
    owner = django_user_model.objects.create_user(OWNER_NAME, password=PASSWORD)
    walker = django_user_model.objects.create_user("walker", password=PASSWORD)
    data = image_bytes()
    artworks = services.artworks_create(
        owner,
        upload_file(data, SECRET_NAME),
        processing.inspect(data),
        [
            services.Recipe("pencil", processing.validate_params("pencil", {})),
            services.Recipe("oil", processing.validate_params("oil", {})),
        ],
    )
    run_worker()
    for artwork in artworks:
        artwork.refresh_from_db()
    assert [a.status for a in artworks] == ["done", "done"]
    # One of the two stays unfinished-looking for the retry/status routes.
    Artwork.objects.filter(pk=artworks[1].pk).update(
        status=Artwork.Status.FAILED, error="boom"
    )
    artwork = artworks[0]
    files = {
        name: default_storage.open(name).read()
        for name in (
            artwork.photo.original.name,
            artwork.result.name,
            artwork.thumbnail.name,
        )
    }
    return {
        "owner": owner,
        "walker": walker,
        "artwork": artwork,
        "failed": artworks[1],
        "photo": artwork.photo,
        "files": files,
    }


def _values(world) -> dict[str, list[str]]:
    artwork = world["artwork"]
    return {
        "pk": [str(artwork.pk), str(world["failed"].pk)],
        "object_id": [str(artwork.pk), str(world["photo"].pk)],
        "artwork_id": [str(artwork.pk)],
        "photo_id": [str(world["photo"].pk)],
        "id": [str(artwork.pk)],
        "kind": ["original", "result", "thumbnail"],
        "slug": ["pencil"],
        "style": ["pencil"],
        "app_label": ["gallery"],
        "queue_index": ["0"],
        "scheduler_index": ["0"],
        "connection_index": ["0"],
        "job_id": [artwork.job_id or "x"],
        "result_id": ["x"],
        "key": ["x"],
        "scheduler_name": ["x"],
        "cron_job_name": ["x"],
        "token": ["x"],
        "uidb64": ["MQ"],
        "signed": ["1.result:x:y"],
        "content_type_id": [
            str(ContentType.objects.get_for_model(Artwork).pk),
            str(ContentType.objects.get_for_model(Photo).pk),
        ],
        "url": [f"gallery/artwork/{artwork.pk}/"],
    }


_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_GROUP = re.compile(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)\??")


def _expand(route: str, values: dict[str, list[str]]) -> list[str] | None:
    """Concrete URLs for a route string (path() or regex parts), or None."""
    names = _CONVERTER.findall(route) + [m[0] for m in _GROUP.findall(route)]
    if any(name not in values for name in names):
        return None
    urls = [route]
    for name in dict.fromkeys(names):
        urls = [
            _GROUP.sub(
                lambda m, n=name, v=value: v if m.group(1) == n else m.group(0),
                _CONVERTER.sub(
                    lambda m, n=name, v=value: v if m.group(1) == n else m.group(0),
                    url,
                ),
            )
            for url in urls
            for value in values[name]
        ]
    cleaned = []
    for url in urls:
        url = url.replace("^", "").replace("$", "").replace(r"\Z", "")
        url = url.replace("/?", "/").replace("//", "/")
        cleaned.append("/" + url.lstrip("/"))
    return cleaned


def _walk_urls(world) -> list[tuple[str, str]]:
    values = _values(world)
    walk, missing = [], []
    for _func, route, _ns, name in extract_views_from_urlpatterns(
        get_resolver().url_patterns
    ):
        urls = _expand(route, values)
        if urls is None:
            missing.append(route)
            continue
        for url in urls:
            try:
                resolve(url)
            except Resolver404:
                missing.append(f"{route} -> {url}")
                continue
            walk.append((url, name or ""))
    assert not missing, f"no URL could be built for: {missing}"
    # The media view's query variants, too.
    artwork = world["artwork"]
    for kind in ("original", "result", "thumbnail"):
        base = f"/media/artworks/{artwork.pk}/{kind}/"
        walk += [(base + "?download=1", "media"), (base + "?format=png", "media")]
    return walk


def _leaks(response, world) -> list[str]:
    body = b""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    found = []
    for marker in (SECRET_NAME.encode(), OWNER_NAME.encode()):
        if marker in body:
            found.append(marker.decode())
    for name, data in world["files"].items():
        # From the middle: JPEG headers (quantisation tables) repeat across
        # files, the entropy-coded pixels do not.
        middle = len(data) // 2
        if data[middle : middle + 64] in body:
            found.append(f"bytes of {name}")
        if name.encode() in body:
            found.append(f"storage name {name}")
    location = response.get("Location", "")
    for name in world["files"]:
        if name in location:
            found.append(f"redirect to {name}")
    return found


def _post_data(world) -> dict:
    return {
        "public": "1",
        "style": "pencil",
        "photo": str(world["photo"].pk),
        "reason": "walk",
        # Not the owner's bytes: the walker's own upload (and its export)
        # must not read as a leak of the owner's identical photo.
        "image": upload_file(image_bytes(width=336, height=252)),
    }


@pytest.mark.parametrize("who", ["other user", "anonymous"])
def test_walk_every_url_as_someone_else(private_world, who, settings):
    settings.STUDIO_UPLOAD_RATE = 100_000
    world = private_world
    walked = _walk_urls(world)
    assert len(walked) > 50  # the gallery, accounts, admin and rq routes
    owner_ids = {str(world["artwork"].pk), str(world["failed"].pk)}
    problems = []
    for url, name in walked:
        for method in ("get", "post"):
            client = Client(raise_request_exception=False)
            if who == "other user":
                client.force_login(world["walker"])
            args = (url, _post_data(world)) if method == "post" else (url,)
            response = getattr(client, method)(*args)
            status = response.status_code
            where = f"{method.upper()} {url} ({name}) -> {status}"
            if status >= 500 and not (url == "/readyz" and status == 503):
                problems.append(where)
                continue
            leaks = _leaks(response, world)
            if leaks:
                problems.append(f"{where} shows {leaks}")
            segments = set(url.split("?")[0].strip("/").split("/"))
            if segments & owner_ids and not url.startswith("/admin/"):
                # A URL naming the owner's private artwork must be refused.
                if status not in ALLOWED_REFUSALS:
                    problems.append(f"{where}: expected a refusal")
                if status == 302 and not response["Location"].startswith(
                    "/accounts/login/"
                ):
                    problems.append(f"{where}: redirects to {response['Location']}")
            if url.startswith("/admin/") and status == 200 and name != "login":
                problems.append(f"{where}: admin answered a non-staff client")
    assert not problems, "\n".join(problems)
    # Nothing of the owner's changed, and the walker owns nothing new.
    artwork = Artwork.objects.get(pk=world["artwork"].pk)
    assert artwork.public is False and artwork.status == Artwork.Status.DONE
    assert Artwork.objects.get(pk=world["failed"].pk).status == Artwork.Status.FAILED
    assert Photo.objects.filter(pk=world["photo"].pk).exists()
    assert not Artwork.objects.filter(owner=world["walker"], photo=world["photo"])
    for name in world["files"]:
        assert default_storage.exists(name), name


def test_the_walk_can_see_a_leak(private_world):
    """Control: the same checks flag what the owner legitimately sees."""
    world = private_world
    client = Client()
    client.force_login(world["owner"])
    original = client.get(f"/media/artworks/{world['artwork'].pk}/original/")
    assert original.status_code == 200
    assert _leaks(original, world)
    urls = [url for url, _ in _walk_urls(world)]
    assert f"/artworks/{world['artwork'].pk}/delete/" in urls
    assert f"/media/artworks/{world['artwork'].pk}/thumbnail/" in urls
