"""The account in the JSON API: personal access tokens, the export of
everything, and deleting the account.

Tokens are made in a signed-in browser session only (a leaked token must
not be able to mint more); listing and revoking work with a token too.
"""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Form, Router, Schema, Status

from gallery import accounts, archives, limits
from gallery.models import ApiToken
from gallery.web.api_auth import ErrorOut, api_token, members, session_only
from gallery.web.api_sharing import ZIP
from gallery.web.refusals import json_error
from gallery.web.shared import share_url

router = Router(tags=["account"])
SIGN_IN = gettext_lazy("Sign in to manage your account.")
#: Password attempts to delete an account, per user and minute.
DELETE_ATTEMPTS = 5


class TokenOut(Schema):
    id: int
    name: str
    scope: str
    prefix: str
    created: str
    last_used: str | None


class TokensOut(Schema):
    tokens: list[TokenOut]


class TokenCreatedOut(TokenOut):
    token: str


@router.get(
    "/tokens/",
    url_name="api_tokens",
    response={200: TokensOut, 401: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="listTokens",
    summary="Your personal access tokens (never their secrets)",
)
def api_tokens(request: HttpRequest):
    mine = ApiToken.objects.filter(user_id=request.user.pk)
    return {"tokens": [accounts.token_as_dict(t) for t in mine]}


@router.post(
    "/tokens/",
    url_name="api_tokens",
    response={201: TokenCreatedOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    auth=session_only(SIGN_IN),
    operation_id="createToken",
    summary="Make a token (signed-in session only); the secret is shown once",
)
def api_token_create(request: HttpRequest, name: Form[str], scope: Form[str] = "read"):
    """``scope``: ``read`` (GET only) or ``write``. Send the secret as
    ``Authorization: Bearer <token>``; only its hash is stored."""
    try:
        token, secret = accounts.token_create(request.user, name, scope)
    except accounts.TokenRefused as refusal:
        return json_error(refusal.message, refusal.field)
    return Status(201, {**accounts.token_as_dict(token), "token": secret})


@router.delete(
    "/tokens/{int:pk}/",
    url_name="api_token",
    response={204: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="revokeToken",
    summary="Revoke a token: its next request is refused",
)
def api_token_revoke(request: HttpRequest, pk: int):
    if not accounts.token_revoke(request.user, pk):
        return json_error(_("No such token."), status=404)
    return Status(204, None)


@router.get(
    "/account/export.zip",
    url_name="api_account_export",
    response={200: None, 401: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="exportAccount",
    summary="Everything of yours as one streamed ZIP",
    openapi_extra={"responses": {200: {"description": "ZIP", **ZIP}}},
)
def api_account_export(request: HttpRequest):
    """``account.json`` (profile, photos, artworks with recipes, presets,
    share links) with ``originals/`` and ``results/``."""
    user = request.user
    response = StreamingHttpResponse(
        archives.account_zip(user, lambda link: share_url(request, link)),
        content_type="application/zip",
    )
    name = f"art-studio-{user.get_username()}.zip".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.post(
    "/account/delete/",
    url_name="api_account_delete",
    response={204: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="deleteAccount",
    summary="Delete your account, every row and every file (needs the password)",
)
def api_account_delete(request: HttpRequest, password: Form[str] = ""):
    """Photos, artworks, presets, share links, tokens and sessions end; the
    files are removed once the deletion is committed."""
    user = request.user
    retry_after = limits.hit("account-delete", user.pk, DELETE_ATTEMPTS)
    if retry_after is not None:
        return json_error(
            _("Too many attempts. Please wait %(seconds)d seconds.")
            % {"seconds": retry_after},
            "password",
            status=429,
            retry_after=retry_after,
        )
    if not user.check_password(password):
        return json_error(_("The password is not correct."), "password")
    accounts.account_delete(user)
    if api_token(request) is None:
        logout(request)
    return Status(204, None)
