"""ZIP downloads of chosen artworks: valid, exactly the selection, named
<style>-<id>.<ext> with a recipes.json; any id not yours refuses the whole
request (404), an unfinished one of yours 400 naming it; streamed with flat
memory."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from gallery import archives
from gallery.models import Artwork
from tests.conftest import create_artworks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished(owner, queue, run_worker):
    artworks = create_artworks(owner, ("pencil", "oil", "cartoon"))
    run_worker()
    for artwork in artworks:
        artwork.refresh_from_db()
    assert {a.status for a in artworks} == {"done"}
    return artworks


def _zip(client, ids) -> zipfile.ZipFile:
    response = client.get(f"/api/artworks/download.zip?ids={','.join(map(str, ids))}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_zip_matches_the_selection(owner_client, finished):
    chosen = [finished[2], finished[0]]
    archive = _zip(owner_client, [a.pk for a in chosen])
    assert archive.testzip() is None
    names = [f"{a.style}-{a.pk}.jpg" for a in chosen]
    assert archive.namelist() == [*names, "recipes.json"]
    for artwork, name in zip(chosen, names, strict=True):
        assert archive.read(name) == artwork.result.open("rb").read()
    recipes = json.loads(archive.read("recipes.json"))
    assert [r["id"] for r in recipes] == [a.pk for a in chosen]
    assert recipes[0]["style"] == "cartoon" and recipes[0]["params"] == chosen[0].params
    assert recipes[0]["file"] == names[0] and recipes[0]["engine_version"]


def test_foreign_unknown_and_unfinished_ids(
    owner_client, other_client, other, finished
):
    (theirs,) = create_artworks(other)
    mine = finished[0].pk
    for ids in (f"{mine},{theirs.pk}", f"{mine},999999"):
        response = owner_client.get(f"/api/artworks/download.zip?ids={ids}")
        assert response.status_code == 404, ids
        assert set(response.json()) == {"error", "field"}
    assert other_client.get(f"/api/artworks/download.zip?ids={mine}").status_code == 404
    assert Client().get(f"/api/artworks/download.zip?ids={mine}").status_code == 401
    Artwork.objects.filter(pk=finished[1].pk).update(status="processing")
    response = owner_client.get(
        f"/api/artworks/download.zip?ids={mine},{finished[1].pk}"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "ids"
    assert str(finished[1].pk) in response.json()["error"]


@pytest.mark.parametrize(
    "ids",
    ["", "a,b", "1,,2", "1;2", "-1", "9" * 30, ",".join(["1"] * 2) + ",x", "²", "١٢"],
)
def test_malformed_ids_are_400(owner_client, ids):
    response = owner_client.get(f"/api/artworks/download.zip?ids={ids}")
    assert response.status_code == 400 and response.json()["field"] == "ids"


def test_a_ticked_box_with_a_strange_value_is_no_500(owner_client):
    """My gallery's "Download selected" passes the ticked ids on to the ZIP
    endpoint: a forged value like ``²`` (a digit to str.isdigit, not to
    int) is left out, never a 500."""
    response = owner_client.get("/gallery/download/?artwork=²")
    assert response.status_code == 302
    assert "download.zip" not in response["Location"]


def test_too_many_ids_are_400(owner_client):
    ids = ",".join(str(i) for i in range(1, 502))
    assert owner_client.get(f"/api/artworks/download.zip?ids={ids}").status_code == 400


def test_my_gallery_selection_leads_to_the_zip(owner_client, finished):
    page = owner_client.get("/gallery/")
    assert page.content.count(b'data-role="select-artwork"') == 3
    response = owner_client.get(
        "/gallery/download/", {"artwork": [finished[0].pk, finished[1].pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == (
        f"/api/artworks/download.zip?ids={finished[0].pk},{finished[1].pk}"
    )
    nothing = owner_client.get("/gallery/download/")
    assert nothing.status_code == 302 and nothing["Location"] == "/gallery/"


def test_streaming_keeps_memory_flat(owner, finished):
    """Results of 8 MB each: the archive streams them through a few 64 KB
    chunks, so peak memory does not grow with the archive."""
    size = 8 * 1024 * 1024
    for artwork in finished:
        name = default_storage.save("results/big.jpg", ContentFile(os.urandom(size)))
        Artwork.objects.filter(pk=artwork.pk).update(result=name, result_bytes=size)
    artworks = list(Artwork.objects.filter(pk__in=[a.pk for a in finished]))
    tracemalloc.start()
    try:
        total = 0
        for piece in archives.artworks_zip(artworks):
            total += len(piece)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 3 * size
    assert peak < 2 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for {total / 1e6:.0f} MB"


def test_a_file_lost_from_storage_is_left_out_not_fatal(owner_client, finished):
    default_storage.delete(finished[0].result.name)
    archive = _zip(owner_client, [finished[0].pk, finished[1].pk])
    assert archive.namelist() == [f"oil-{finished[1].pk}.jpg", "recipes.json"]
    assert [r["id"] for r in json.loads(archive.read("recipes.json"))] == [
        finished[1].pk
    ]
