"""Presets: saved from the editor (API) or an artwork page, listed,
renamed, deleted; applied by POST /api/artworks/ (preset=<id>, repeatable);
shared as an editor link that carries the recipe in its query string."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from gallery.models import Artwork, Preset
from tests.conftest import create_artworks, upload_file

pytestmark = pytest.mark.django_db(transaction=True)


def _create(client, name="Soft oil", style="oil", params=None):
    return client.post(
        "/api/presets/",
        {
            "name": name,
            "style": style,
            "params": json.dumps({"size": 7} if params is None else params),
        },
    )


def test_save_list_rename_delete(owner_client):
    response = _create(owner_client)
    assert response.status_code == 201
    preset = response.json()
    assert set(preset) == {"id", "name", "style", "params"}
    assert preset["params"]["size"] == 7 and len(preset["params"]) > 1  # defaults
    listed = owner_client.get("/api/presets/").json()
    assert listed == {"presets": [preset]}
    renamed = owner_client.patch(
        f"/api/presets/{preset['id']}/",
        {"name": "Warm oil"},
        content_type="application/json",
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Warm oil"
    assert owner_client.delete(f"/api/presets/{preset['id']}/").status_code == 204
    assert owner_client.get("/api/presets/").json() == {"presets": []}


@pytest.mark.parametrize(
    "data,field",
    [
        ({"name": "", "style": "oil"}, "name"),
        ({"name": "x" * 81, "style": "oil"}, "name"),
        ({"name": "a", "style": "crayon"}, "style"),
        ({"name": "a", "style": "oil", "params": "{bad"}, "params"),
        ({"name": "a", "style": "oil", "params": '{"size": 10000}'}, "params"),
        ({"name": "a", "style": "oil", "params": '{"nope": 1}'}, "params"),
        ({"style": "oil"}, "name"),
    ],
)
def test_bad_presets_are_400_with_the_field(owner_client, data, field):
    response = owner_client.post("/api/presets/", data)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Preset.objects.exists()


@pytest.mark.parametrize("value", ["²", "9" * 5000, "9" * 30])
def test_an_upload_with_a_preset_id_that_is_no_number_is_400(owner_client, value):
    response = owner_client.post(
        "/api/artworks/", {"image": upload_file(), "preset": value}
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "preset"


def test_duplicate_names_are_refused(owner_client):
    assert _create(owner_client).status_code == 201
    again = _create(owner_client)
    assert again.status_code == 400 and again.json()["field"] == "name"
    other = _create(owner_client, name="Other").json()
    clash = owner_client.patch(
        f"/api/presets/{other['id']}/",
        {"name": "Soft oil"},
        content_type="application/json",
    )
    assert clash.status_code == 400
    assert Preset.objects.get(pk=other["id"]).name == "Other"


def test_presets_are_private(owner_client, other_client):
    preset = _create(owner_client).json()
    url = f"/api/presets/{preset['id']}/"
    assert other_client.get("/api/presets/").json() == {"presets": []}
    assert (
        other_client.patch(
            url, {"name": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert other_client.delete(url).status_code == 404
    assert Client().get("/api/presets/").status_code == 401
    assert Client().delete(url).status_code == 401
    assert other_client.post(f"/presets/{preset['id']}/delete/").status_code == 404
    assert (
        other_client.post(f"/presets/{preset['id']}/rename/", {"name": "y"}).status_code
        == 404
    )
    assert Preset.objects.get().name == "Soft oil"


def test_upload_with_presets_beside_styles(owner_client, other_client, queue):
    soft = _create(owner_client, params={"size": 3}).json()
    sketch = _create(owner_client, name="Sketch", style="pencil", params={}).json()
    response = owner_client.post(
        "/api/artworks/",
        {
            "image": upload_file(),
            "style": ["cartoon"],
            "preset": [soft["id"], sketch["id"]],
        },
    )
    assert response.status_code == 202, response.content
    ids = [a["id"] for a in response.json()["artworks"]]
    artworks = [Artwork.objects.get(pk=pk) for pk in ids]
    assert [a.style for a in artworks] == ["cartoon", "oil", "pencil"]
    assert artworks[1].params == soft["params"]
    # Presets alone are enough; someone else's preset reads as missing.
    only = owner_client.post(
        "/api/artworks/", {"image": upload_file(), "preset": soft["id"]}
    )
    assert only.status_code == 202
    theirs = other_client.post(
        "/api/artworks/", {"image": upload_file(), "preset": soft["id"]}
    )
    assert theirs.status_code == 400 and theirs.json()["field"] == "preset"
    none = owner_client.post("/api/artworks/", {"image": upload_file()})
    assert none.status_code == 400 and none.json()["field"] == "style"


def test_save_from_the_artwork_page_and_manage_on_the_presets_page(owner_client, owner):
    (artwork,) = create_artworks(owner, ("watercolor",))
    response = owner_client.post(f"/artworks/{artwork.pk}/preset/", {"name": "Rainy"})
    assert response.status_code == 302
    preset = Preset.objects.get(owner=owner)
    assert (preset.style, preset.params) == ("watercolor", artwork.params)
    page = owner_client.get("/presets/")
    assert page.status_code == 200 and b"Rainy" in page.content
    owner_client.post(f"/presets/{preset.pk}/rename/", {"name": "Drizzle"})
    preset.refresh_from_db()
    assert preset.name == "Drizzle"
    owner_client.post(f"/presets/{preset.pk}/delete/")
    assert not Preset.objects.exists()


def test_preset_link_opens_the_editor_with_its_recipe(owner_client, other_client):
    _create(owner_client, params={"size": 9, "dyn_ratio": 3})
    page = owner_client.get("/presets/")
    link = page.context["rows"][0]["link"]
    parts = urlsplit(link)
    assert parts.path == "/upload/" and "oil.size=9" in parts.query
    # A friend opens it: the oil panel is chosen with the preset's values.
    editor = other_client.get(f"{parts.path}?{parts.query}")
    assert editor.status_code == 200
    oil = next(p for p in editor.context["style_panels"] if p["slug"] == "oil")
    assert oil["checked"]
    values = {p["name"]: p["value"] for p in oil["params"]}
    assert values["size"] == 9 and values["dyn_ratio"] == 3
    assert b"Soft oil" in editor.content
    # Anonymous visitors sign in first and come back to the same link.
    anonymous = Client().get(f"{parts.path}?{parts.query}")
    assert anonymous.status_code == 302 and "oil.size%3D9" in anonymous["Location"]
    bad = other_client.get("/upload/?style=oil&oil.size=99999")
    assert bad.status_code == 200 and bad.context["link_error"]


def test_editor_lists_the_users_presets(owner_client, other_client):
    _create(owner_client)
    mine = owner_client.get("/upload/").context["editor"]["presets"]
    assert [p["name"] for p in mine] == ["Soft oil"]
    assert other_client.get("/upload/").context["editor"]["presets"] == []


@pytest.mark.parametrize("url", ["/api/presets/", "/api/artworks/", "/api/preview/"])
def test_deeply_nested_params_are_400_not_500(owner_client, url):
    """json.loads raises RecursionError (not a JSONDecodeError) on deep
    nesting: it must still be a 400 naming params."""
    data = {"name": "deep", "style": "oil", "params": "[" * 100_000}
    if url != "/api/presets/":
        data["image"] = upload_file()
    response = owner_client.post(url, data)
    assert response.status_code == 400
    assert response.json()["field"] == "params"


def test_control_characters_in_names_are_dropped_or_refused(owner_client):
    """A NUL cannot be stored in PostgreSQL: names are cleaned first."""
    ok = owner_client.post(
        "/api/presets/", {"name": "Soft\x00 oil\x07", "style": "oil"}
    )
    assert ok.status_code == 201 and ok.json()["name"] == "Soft oil"
    only = owner_client.post("/api/presets/", {"name": "\x00\x01", "style": "oil"})
    assert only.status_code == 400 and only.json()["field"] == "name"
    token = owner_client.post("/api/tokens/", {"name": "\x00cron\x00", "scope": "read"})
    assert token.status_code == 201 and token.json()["name"] == "cron"
