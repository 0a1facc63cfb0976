"""What members keep beside their artworks: share links, presets and
personal access tokens (models; the writes live in ``gallery.sharing``,
``gallery.presets`` and ``gallery.accounts``).

Defined apart from ``gallery.models`` (which imports them, so Django
registers them with the app) to keep each module small. Foreign keys name
their targets as strings: this module imports nothing of the gallery.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def token_digest(secret: str) -> str:
    """SHA-256 of a token secret: what is stored and looked up. The secrets
    are long random strings, so a fast hash is enough (no password
    stretching is needed to resist guessing)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ShareLink(models.Model):
    """An unguessable URL that shows one artwork without signing in.

    The token is kept as it is (not hashed) so that the owner can see and copy
    their links again; it only ever opens the result and the recipe of one
    artwork, never the original.
    """

    artwork = models.ForeignKey(
        "gallery.Artwork", on_delete=models.CASCADE, related_name="share_links"
    )
    token = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(_("expires"))

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("share link")
        verbose_name_plural = _("share links")

    def __str__(self) -> str:
        return f"share link of #{self.artwork_id}"


class Preset(models.Model):
    """A named recipe (style and full parameter dict) to apply again."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets"
    )
    name = models.CharField(_("name"), max_length=80)
    style = models.CharField(_("style"), max_length=32)
    params = models.JSONField(_("parameters"), default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="one_preset_name_per_owner"
            )
        ]
        verbose_name = _("preset")
        verbose_name_plural = _("presets")

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A personal access token for scripts: ``Authorization: Bearer <secret>``.

    Only the SHA-256 of the secret is stored; the secret is shown once, when
    the token is made. Revoking deletes the row, so the next request fails.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=80)
    scope = models.CharField(
        _("scope"), max_length=8, choices=Scope.choices, default=Scope.READ
    )
    digest = models.CharField(max_length=64, unique=True)
    # The secret's first characters, to tell tokens apart in a list.
    prefix = models.CharField(max_length=12)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE
