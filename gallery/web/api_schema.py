"""The studio's one django-ninja API: its routers, its error shape, and the
OpenAPI schema and docs page generated from the operations' code.

django-ninja's own answers are turned into the studio's contract
(DESIGN.md, "JSON API"): a validation error is 400 ``{"error", "field"}``
(not 422 with a list), an authentication failure 401, a missing object 404,
each with the same two keys. The docs page is Swagger UI as django-ninja
ships it (served from the package's static files: no CDN, so it works
offline), started by the package's own external script, so the site's
Content-Security-Policy needs no exception.
"""

from __future__ import annotations

import json
from functools import cache

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from gallery.web import api, api_account, api_presets, api_sharing
from gallery.web.api_auth import ANYONE
from gallery.web.refusals import json_error

DESCRIPTION = """\
The JSON API of Impressionist Art Studio, used by the studio's own pages and
by scripts.

**Authentication**: a signed-in browser session (unsafe methods need the
`X-CSRFToken` header), or a personal access token made on your account page,
sent as `Authorization: Bearer <token>` (no CSRF). A `read` token may only
GET. Without either, private things answer 401.

**Errors** are `{"error": "...", "field": "..."}`: 400 for bad input (with
the field at fault), 401 without a valid session or token, 404 for anything
that is not yours and not public, 413 too large, 429/503 with `Retry-After`.
"""

studio_api = NinjaAPI(
    title="Impressionist Art Studio API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="gallery",
    # Served by the operations below, which are in the schema themselves.
    openapi_url=None,
    docs_url=None,
)
studio_api.add_router("", api.router)
studio_api.add_router("", api_sharing.router)
studio_api.add_router("", api_presets.router)
studio_api.add_router("", api_account.router)

# Messages for the validation errors a client can cause, by pydantic's type.
_MESSAGES = {
    "missing": lambda ctx: _("This field is required."),
    "int_parsing": lambda ctx: _("Enter a whole number."),
    "int_type": lambda ctx: _("Enter a whole number."),
    "int_from_float": lambda ctx: _("Enter a whole number."),
    "greater_than_equal": lambda ctx: (
        _("Enter %(limit)s or more.") % {"limit": ctx.get("ge")}
    ),
    "less_than_equal": lambda ctx: (
        _("Enter %(limit)s or less.") % {"limit": ctx.get("le")}
    ),
    "string_type": lambda ctx: _("Enter text."),
    "json_invalid": lambda ctx: _("The body is not valid JSON."),
}
_SOURCES = {"body", "form", "file", "query", "path", "header", "cookie"}


def _field(loc) -> str:
    names = [part for part in loc if isinstance(part, str) and part not in _SOURCES]
    return names[-1] if names else ""


@studio_api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    error = exc.errors[0] if exc.errors else {}
    field = _field(error.get("loc", ()))
    if field in ("body", "payload"):
        field = ""
    describe = _MESSAGES.get(error.get("type", ""))
    message = describe(error.get("ctx") or {}) if describe else error.get("msg", "")
    return json_error(message or _("The request is not valid."), field)


@studio_api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = exc.message
    if exc.status_code == 400 and not isinstance(message, str):
        message = _("The request is not valid.")
    return json_error(str(message), status=exc.status_code)


@studio_api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return json_error(_("Not found."), status=404)


@cache
def openapi_schema() -> dict:
    """The schema of every operation, generated once per process."""
    return json.loads(
        json.dumps(studio_api.get_openapi_schema(path_prefix="/api/"), default=str)
    )


@studio_api.get(
    "/schema/",
    url_name="api_schema",
    response={200: None},
    auth=ANYONE,
    operation_id="getSchema",
    summary="This OpenAPI 3 schema, generated from the code",
    tags=["about the API"],
    openapi_extra={
        "security": [{}],
        "responses": {
            200: {
                "description": "OpenAPI document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    },
)
def api_schema(request: HttpRequest) -> HttpResponse:
    response = JsonResponse(openapi_schema())
    response["Cache-Control"] = "public, max-age=300"
    return response


@studio_api.get(
    "/docs/",
    url_name="api_docs",
    response={200: None},
    auth=ANYONE,
    operation_id="getDocs",
    summary="This documentation as a page (Swagger UI)",
    tags=["about the API"],
    openapi_extra={
        "security": [{}],
        "responses": {200: {"description": "HTML page", "content": {"text/html": {}}}},
    },
)
def api_docs(request: HttpRequest) -> HttpResponse:
    settings = {
        "url": reverse("gallery:api_schema"),
        "layout": "BaseLayout",
        "deepLinking": True,
    }
    return render(
        request,
        "ninja/swagger.html",
        {
            "swagger_settings": json.dumps(settings),
            "api": studio_api,
            # "Try it out" from a signed-in browser sends the CSRF token.
            "add_csrf": True,
        },
    )


def api_urlpatterns() -> list:
    """The operations' URL patterns, for ``gallery.web.urls`` to mount under
    ``api/`` (django-ninja's own "API root" 404 page is left out)."""
    patterns, _app, _namespace = studio_api.urls
    return [p for p in patterns if getattr(p, "name", "") != "api-root"]
