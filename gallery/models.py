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
            models.Index(fields=["owner", "-created"], name="photo_owner_created")
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

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="artwork_owner_created"),
            models.Index(fields=["public", "-created"], name="artwork_public_created"),
            models.Index(fields=["status", "queued_at"], name="artwork_status_queued"),
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
