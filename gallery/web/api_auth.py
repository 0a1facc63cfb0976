"""Who is calling the JSON API: a signed-in session (with Django's CSRF
check) or a personal access token (``Authorization: Bearer <token>``, no
CSRF: a browser never sends that header across sites on its own).

:class:`ApiTokenMiddleware` resolves a bearer token before any view runs,
on ``/api/`` and on ``/media/`` (so a script can download the result URLs
the API gives it): a token that is unknown or revoked is answered 401 at
once, a ``read`` token may only GET, and a good one makes its owner the
request's user, so rate limits and quotas count for that user whichever
way they call. The auth objects below tell django-ninja which operations
accept which, and describe that in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from gallery import accounts
from gallery.web.refusals import json_error

TOKEN_PATHS = ("/api/", "/media/")
READ_METHODS = ("GET", "HEAD")


class ErrorOut(Schema):
    """Every refusal of the API: a message fit for people and the input at
    fault (empty when it is not one field)."""

    error: str
    field: str


class ApiTokenMiddleware:
    """Authenticate ``Authorization: Bearer`` requests to the API and media."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header or not request.path.startswith(TOKEN_PATHS):
            return self.get_response(request)
        scheme, _space, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            return self.get_response(request)
        token = accounts.token_for_secret(secret.strip())
        if token is None:
            response = json_error(
                _("The API token is not valid: it was revoked or mistyped."),
                status=401,
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        if not token.can_write and request.method not in READ_METHODS:
            response = json_error(
                _("This token may only read (GET); make a write token to change."),
                status=403,
            )
            response["WWW-Authenticate"] = 'Bearer error="insufficient_scope"'
            return response
        request.user = token.user
        request.api_token = token
        # Cross-site requests cannot carry this header: no CSRF token needed.
        request._dont_enforce_csrf_checks = True
        return self.get_response(request)


def api_token(request: HttpRequest):
    """The token the request was authenticated with, or None (a session)."""
    return getattr(request, "api_token", None)


class BearerToken(HttpBearer):
    """A personal access token (checked by :class:`ApiTokenMiddleware`)."""

    def __call__(self, request: HttpRequest):
        return api_token(request)

    def authenticate(self, request: HttpRequest, token: str):  # pragma: no cover
        return api_token(request)


class SessionCookie(APIKeyCookie):
    """The signed-in browser session; unsafe methods need ``X-CSRFToken``."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest):
        if api_token(request) is not None or not request.user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(403, _("CSRF check failed: send the X-CSRFToken header."))
        return request.user

    def authenticate(self, request: HttpRequest, key):  # pragma: no cover
        return request.user if request.user.is_authenticated else None


def anyone(request: HttpRequest) -> bool:
    """Anonymous visitors too (public artworks, the style list)."""
    return True


class SignInRequired:
    """The last of an operation's auth checks: 401 with its own message."""

    def __init__(self, message: str | Promise):
        self.message = message

    def __call__(self, request: HttpRequest):
        raise AuthenticationError(401, str(self.message))


class SessionRequired(SignInRequired):
    """For operations a token must not reach (making tokens): a token gets
    403, a request without session 401."""

    def __call__(self, request: HttpRequest):
        if api_token(request) is not None:
            raise HttpError(
                403, _("API tokens are made in a signed-in browser session.")
            )
        super().__call__(request)


BEARER = BearerToken()
SESSION = SessionCookie()
#: Anonymous visitors, sessions and tokens.
ANYONE = [BEARER, SESSION, anyone]


def members(message: str | Promise) -> list:
    """A session or a token; otherwise 401 with ``message``."""
    return [BEARER, SESSION, SignInRequired(message)]


def session_only(message: str | Promise) -> list:
    return [SESSION, SessionRequired(message)]
