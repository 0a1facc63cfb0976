"""The OpenAPI schema is generated from the code, is a valid OpenAPI 3
document, and names every URL under /api/; the docs page works offline and
under the site's CSP; django-ninja's own error shapes are the studio's."""

from __future__ import annotations

import re

import pytest
from django.contrib.admindocs.views import extract_views_from_urlpatterns
from django.urls import get_resolver
from openapi_spec_validator import validate

from tests.conftest import upload_file

pytestmark = pytest.mark.django_db


def _api_routes() -> set[str]:
    routes = set()
    for _func, route, _ns, _name in extract_views_from_urlpatterns(
        get_resolver().url_patterns
    ):
        path = "/" + route.lstrip("^")
        if path.startswith("/api/"):
            routes.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path))
    return routes


def test_schema_is_valid_openapi_and_names_every_api_url(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    schema = response.json()
    validate(schema)  # raises on any violation of the OpenAPI 3.x spec
    assert schema["openapi"].startswith("3.")
    routes = _api_routes()
    assert len(routes) >= 12
    missing = routes - set(schema["paths"])
    assert not missing, f"URL patterns under /api/ not in the schema: {missing}"
    assert set(schema["paths"]) == routes  # and nothing documented is unrouted


def test_schema_documents_the_contract(client):
    schema = client.get("/api/schema/").json()
    paths = schema["paths"]
    create = paths["/api/artworks/"]["post"]
    body = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"image", "photo", "style", "preset", "params"} <= set(body["properties"])
    assert body["properties"]["style"]["type"] == "array"
    assert body["properties"]["preset"]["type"] == "array"
    assert {"202", "400", "401", "413", "429", "503"} <= set(create["responses"])
    artwork = paths["/api/artworks/{pk}/"]["get"]["responses"]["200"]
    ref = artwork["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"id", "status", "result_url", "original_url", "created"} <= set(fields)
    preview = paths["/api/preview/"]["post"]["responses"]["200"]["content"]
    assert "image/jpeg" in preview
    assert (
        "application/zip"
        in (paths["/api/artworks/download.zip"]["get"]["responses"]["200"]["content"])
    )
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert schemes["SessionCookie"]["in"] == "cookie"
    # Creating a token is for sessions only.
    security = paths["/api/tokens/"]["post"]["security"]
    assert security == [{"SessionCookie": []}]


def test_docs_page_works_offline_under_the_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html.replace(" ", "")  # no inline script
    assert "cdn" not in html.lower()
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
    assert "/api/schema/" in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp


def test_validation_errors_are_400_with_the_field(owner_client):
    response = owner_client.post(
        "/api/artworks/", {"image": upload_file(), "style": "pencil", "preset": "x"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": response.json()["error"], "field": "preset"}
    response = owner_client.post("/api/artworks/42/share/", {"expires_in_days": "many"})
    assert response.status_code == 400 and response.json()["field"] == (
        "expires_in_days"
    )
    response = owner_client.patch(
        "/api/presets/1/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error", "field"}
    response = owner_client.get("/api/artworks/download.zip")
    assert response.status_code == 400 and response.json()["field"] == "ids"


def test_wrong_method_and_unknown_api_path(owner_client):
    assert owner_client.put("/api/styles/").status_code == 405
    assert owner_client.get("/api/nothing-here/").status_code == 404
