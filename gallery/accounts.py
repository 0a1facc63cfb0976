"""A member's account: profile, personal access tokens, and deleting it all.

Deleting an account removes every row of the member (photos, artworks,
presets, share links, tokens, reports, profile) in one transaction; their
files follow after commit (``gallery.storage.files``: the ``post_delete``
handlers run for the cascade too), except a file another member's artwork
shares through dedup. Sessions die with the user row: Django resolves a
session to no user once the row is gone.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery import presets
from gallery.member_models import token_digest
from gallery.models import ApiToken, Artwork, Photo, Profile

logger = logging.getLogger(__name__)

MAX_TOKENS = 50
TOKEN_PREFIX = "ias_"
#: last_used is written at most this often per token (not on every call).
TOKEN_TOUCH_SECONDS = 60
#: The account LogEntry rows of self-service deletions are attributed to:
#: the member's own row is gone, and LogEntry needs a user. Parentheses
#: are not allowed in usernames at sign-up, so no member can take it.
SYSTEM_USERNAME = "(studio)"


class TokenRefused(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


# Profile -----------------------------------------------------------------------


def profile_update(user, *, display_name: str, email: str) -> None:
    """Save the public name and the email address (used for password reset)."""
    Profile.objects.update_or_create(
        user=user, defaults={"display_name": display_name.strip()[:80]}
    )
    user.email = email.strip()
    user.save(update_fields=["email"])


# Personal access tokens ---------------------------------------------------------


def token_create(user, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is never stored or shown again."""
    name = presets.clean_name(name)
    if not name:
        raise TokenRefused(_("Give the token a name."), "name")
    if len(name) > 80:
        raise TokenRefused(_("Keep the name under 80 characters."), "name")
    if scope not in ApiToken.Scope.values:
        raise TokenRefused(_("The scope must be read or write."), "scope")
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS:
        raise TokenRefused(
            _("You have %(max)d tokens; revoke some first.") % {"max": MAX_TOKENS},
            "name",
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        digest=token_digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 4],
    )
    return token, secret


def token_for_secret(secret: str) -> ApiToken | None:
    """The token of an active user with this secret, or None."""
    if not secret or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), user__is_active=True)
        .first()
    )
    if token is not None:
        _touch(token)
    return token


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    stale = now - timedelta(seconds=TOKEN_TOUCH_SECONDS)
    if token.last_used is None or token.last_used < stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now


def token_revoke(user, pk: int) -> bool:
    """Delete one of the user's tokens; False when it is not theirs."""
    deleted, _by_model = ApiToken.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)


def token_as_dict(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "scope": token.scope,
        "prefix": token.prefix,
        "created": token.created.isoformat(),
        "last_used": token.last_used.isoformat() if token.last_used else None,
    }


# Deleting an account --------------------------------------------------------------


def _system_user():
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def account_delete(user) -> dict:
    """Delete the user and everything they own; files go after commit.

    Returns what was removed (counts), which is also written to the admin's
    action log and the gallery log.
    """
    summary = {
        "photos": Photo.objects.filter(owner=user).count(),
        "artworks": Artwork.objects.filter(owner=user).count(),
    }
    user_id, username = user.pk, user.get_username()
    with transaction.atomic():
        # Unfinished renders find no row and discard their output
        # (gallery.pipeline.results.store_result).
        get_user_model().objects.filter(pk=user_id).delete()
        LogEntry.objects.create(
            user=_system_user(),
            content_type=ContentType.objects.get_for_model(get_user_model()),
            object_id=str(user_id),
            object_repr=username[:200],
            action_flag=DELETION,
            change_message=(
                f"Account deleted by its owner: {summary['photos']} photos, "
                f"{summary['artworks']} artworks and their files."
            ),
        )
    logger.info("account %s (%s) deleted by its owner: %s", user_id, username, summary)
    return summary
