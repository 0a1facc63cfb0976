"""Photos people upload and the artworks rendered from them."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

import processing

STYLE_CHOICES = [(slug, style.label) for slug, style in processing.STYLES.items()]


def _generated_name(folder: str, filename: str) -> str:
    # The user's file name never reaches storage: only a random hex name with
    # a known-safe extension, so names cannot be guessed, collide or traverse.
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix not in {".jpg", ".png", ".webp", ".gif", ".heic"}:
        suffix = ".bin"
    return f"{folder}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}{suffix}"


def original_upload_to(instance: Photo, filename: str) -> str:
    return _generated_name("originals", filename)


def result_upload_to(instance: Artwork, filename: str) -> str:
    return _generated_name("results", filename)


def thumbnail_upload_to(instance: Artwork, filename: str) -> str:
    return _generated_name("thumbnails", filename)


class Profile(models.Model):
    """Per-user settings: the public name and quota overrides (blank = default)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="studio_profile",
    )
    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    max_photos = models.PositiveIntegerField(
        _("photo quota"), null=True, blank=True, help_text=_("Blank: the site default.")
    )
    max_bytes = models.PositiveBigIntegerField(
        _("storage quota (bytes)"),
        null=True,
        blank=True,
        help_text=_("Blank: the site default."),
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class Photo(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos"
    )
    original = models.FileField(upload_to=original_upload_to, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveBigIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="photo_owner_created"),
            # "Is this stored file still referenced?" (gallery/files.py,
            # cleanup_media) runs on every delete and per batch of files.
            models.Index(fields=["original"], name="photo_original"),
        ]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.original_name or 'photo'} ({self.width}x{self.height})"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


class Artwork(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="artworks")
    # Denormalised from photo.owner so the gallery query is one indexed scan.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="artworks"
    )
    style = models.CharField(_("style"), max_length=32, choices=STYLE_CHOICES)
    params = models.JSONField(_("parameters"), default=dict)
    engine_version = models.CharField(max_length=16)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    result = models.FileField(upload_to=result_upload_to, max_length=255, blank=True)
    thumbnail = models.FileField(
        upload_to=thumbnail_upload_to, max_length=255, blank=True
    )
    error = models.TextField(_("error"), blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    public = models.BooleanField(_("public"), default=False)
    created = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Moderation(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        REPORTED = "reported", _("Reported")
        HIDDEN = "hidden", _("Hidden by a moderator")

    moderation = models.CharField(
        _("moderation"),
        max_length=16,
        choices=Moderation.choices,
        default=Moderation.VISIBLE,
    )
    # sha256 of source content hash + style + params + engine version: equal
    # keys give equal pixels, so a finished render can be reused.
    recipe_key = models.CharField(max_length=64, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    result_bytes = models.PositiveBigIntegerField(default=0)
    thumbnail_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="artwork_owner_created"),
            models.Index(fields=["public", "-created"], name="artwork_public_created"),
            models.Index(fields=["status", "queued_at"], name="artwork_status_queued"),
            # Reference checks before deleting a (possibly shared) file.
            models.Index(fields=["result"], name="artwork_result"),
            models.Index(fields=["thumbnail"], name="artwork_thumbnail"),
        ]
        verbose_name = _("artwork")
        verbose_name_plural = _("artworks")

    def __str__(self) -> str:
        return f"{self.get_style_display()} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("gallery:artwork_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Report(models.Model):
    """A user's report of a public artwork, reviewed by moderators."""

    artwork = models.ForeignKey(
        Artwork, on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    reason = models.TextField(_("reason"), max_length=1000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["artwork", "reporter"], name="one_report_per_user"
            )
        ]
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return f"report on #{self.artwork_id} by {self.reporter_id}"
