"""Photos people upload and the artworks rendered from them."""

from __future__ import annotations

import functools
import operator
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

import processing

# Registered with the app by this import; see gallery/member_models.py.
from gallery.member_models import ApiToken, Preset, ShareLink  # noqa: F401
from processing import formats

#: The folders the upload_to functions below write to (retention walks them).
MEDIA_FOLDERS = ("originals", "results", "thumbnails", "previews")
#: The stored files of an artwork, by the name the media views use.
FILE_KINDS = ("original", "result", "thumbnail", "animation")


def _generated_name(folder: str, filename: str) -> str:
    # The user's file name never reaches storage: only a random hex name with
    # a known-safe extension, so names cannot be guessed, collide or traverse.
    fmt = formats.by_suffix(PurePosixPath(filename).suffix)
    suffix = fmt.suffix if fmt else ".bin"
    return f"{folder}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}{suffix}"


def pk_from(value: str) -> int | None:
    """The row id written in ``value`` (a query string, a form field): 1-18
    ASCII digits, else None. ``str.isdigit`` alone lets through ``²`` (which
    int() refuses), 5000 digits (int() refuses over 4300) and numbers beyond
    the database's bigint; none of them names a row."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def validate_style(slug: str) -> None:
    """A style slug of the registry. A plain check rather than model choices,
    so that a new style needs no migration."""
    if slug not in processing.STYLES:
        raise ValidationError(_("Unknown style."), code="invalid_choice")


def original_upload_to(instance: Photo, filename: str) -> str:
    return _generated_name("originals", filename)


def preview_upload_to(instance: Photo, filename: str) -> str:
    return _generated_name("previews", filename)


def result_upload_to(instance: Artwork, filename: str) -> str:
    return _generated_name("results", filename)


def thumbnail_upload_to(instance: Artwork, filename: str) -> str:
    return _generated_name("thumbnails", filename)


class Media(models.TextChoices):
    """What kind of picture a photo is: a still, or a moving one."""

    IMAGE = "image", _("Photo")
    VIDEO = "video", _("Video")
    ANIMATION = "animation", _("Animation")


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
    # The live preview's source (long side 512, lossless), made once by the
    # first render job from the decoded original; empty until then.
    preview_proxy = models.FileField(
        upload_to=preview_upload_to, max_length=255, blank=True
    )
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Moving pictures (a video, an animated GIF/WebP): their length in
    # seconds and frames, from the container's header; null for stills.
    media = models.CharField(
        _("media"), max_length=16, choices=Media.choices, default=Media.IMAGE
    )
    duration = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    frames = models.PositiveIntegerField(_("frames"), null=True, blank=True)
    byte_size = models.PositiveBigIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="photo_owner_created"),
            # "Is this stored file still referenced?" (gallery/storage/files.py,
            # cleanup_media) runs on every delete and per batch of files.
            models.Index(fields=["original"], name="photo_original"),
            models.Index(fields=["preview_proxy"], name="photo_preview_proxy"),
        ]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.original_name or 'photo'} ({self.width}x{self.height})"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000

    @property
    def is_moving(self) -> bool:
        return self.media != Media.IMAGE


class ArtworkQuerySet(models.QuerySet):
    def unfinished(self) -> ArtworkQuerySet:
        """Queued or processing: a job will (or may) still change the row."""
        return self.filter(status__in=Artwork.UNFINISHED)

    def finished(self) -> ArtworkQuerySet:
        return self.filter(status__in=Artwork.FINISHED)

    def public(self) -> ArtworkQuerySet:
        """What anyone may see: public, done, not hidden by a moderator."""
        return self.filter(Artwork.PUBLIC)

    def visible_to(self, user) -> ArtworkQuerySet:
        """The user's own artworks (hidden ones too: the owner sees a notice)
        and everyone's public ones. Anonymous users see the public ones."""
        if user is None or not user.is_authenticated:
            return self.public()
        return self.filter(Q(owner_id=user.pk) | Artwork.PUBLIC)

    def with_stored_bytes(self) -> ArtworkQuerySet:
        """Annotate ``stored_bytes``: the result and thumbnail sizes."""
        return self.annotate(stored_bytes=Artwork.STORED_BYTES)

    def stored_bytes(self) -> int:
        """Bytes the rows' results and thumbnails take (recorded on the rows,
        so no storage call is needed; shared dedup files count per row)."""
        total = self.aggregate(total=Sum(Artwork.STORED_BYTES))["total"]
        return int(total or 0)


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
    style = models.CharField(_("style"), max_length=32, validators=[validate_style])
    params = models.JSONField(_("parameters"), default=dict)
    engine_version = models.CharField(max_length=16)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    result = models.FileField(upload_to=result_upload_to, max_length=255, blank=True)
    thumbnail = models.FileField(
        upload_to=thumbnail_upload_to, max_length=255, blank=True
    )
    # An animated GIF/WebP's result also as an animated WebP (the MP4 in
    # ``result`` carries the video and sound); empty for everything else.
    animation = models.FileField(upload_to=result_upload_to, max_length=255, blank=True)
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
    animation_bytes = models.PositiveBigIntegerField(default=0)

    objects = ArtworkQuerySet.as_manager()

    # Status groups: a job still owns an unfinished row; a finished one is
    # never changed by a job again.
    UNFINISHED = (Status.QUEUED, Status.PROCESSING)
    FINISHED = (Status.DONE, Status.FAILED)
    PUBLIC = Q(public=True, status=Status.DONE) & ~Q(moderation=Moderation.HIDDEN)
    # The bytes a row's files take in storage, as recorded on the row.
    STORED_BYTE_FIELDS = ("result_bytes", "thumbnail_bytes", "animation_bytes")
    STORED_BYTES = functools.reduce(operator.add, map(F, STORED_BYTE_FIELDS))

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="artwork_owner_created"),
            models.Index(fields=["public", "-created"], name="artwork_public_created"),
            models.Index(fields=["status", "queued_at"], name="artwork_status_queued"),
            # Reference checks before deleting a (possibly shared) file.
            models.Index(fields=["result"], name="artwork_result"),
            models.Index(fields=["thumbnail"], name="artwork_thumbnail"),
            models.Index(fields=["animation"], name="artwork_animation"),
        ]
        verbose_name = _("artwork")
        verbose_name_plural = _("artworks")

    def __str__(self) -> str:
        return f"{self.style_label} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("gallery:artwork_detail", args=[self.pk])

    @property
    def style_label(self) -> str:
        """The registry's (untranslated) label, or the slug of a style the
        engine no longer has."""
        style = processing.STYLES.get(self.style)
        return style.label if style else self.style

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def retries_left(self) -> bool:
        """May the owner ask for another try (STUDIO_JOB_MAX_ATTEMPTS)?"""
        return self.attempts < settings.STUDIO_JOB_MAX_ATTEMPTS

    def file(self, kind: str):
        """The stored file of this kind: the photo's ``original``, or the
        artwork's ``result``, ``thumbnail`` or ``animation`` (an empty
        FieldFile until it is rendered). Raises ValueError for any other kind."""
        if kind == "original":
            return self.photo.original
        if kind in ("result", "thumbnail", "animation"):
            return getattr(self, kind)
        raise ValueError(f"unknown file kind {kind!r}")

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
