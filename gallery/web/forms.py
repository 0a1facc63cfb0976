"""Forms: server-side validation of uploads, previews, reports and sign-up.

The upload form owns the parameter field names of the editor
(``param:<style>:<name>``, see :func:`param_field`): the page builds its
sliders with them and the form reads them back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

import processing
from gallery import presets, preview, services
from gallery.models import Artwork, Media, Photo, Preset, pk_from
from gallery.services import Recipe
from processing import formats, video

# Photos, and videos (animated GIF/WebP are photo formats already).
ACCEPTED_TYPES = ",".join(formats.accept_list() + formats.moving_accept_list())
PARAM_PREFIX = "param:"
# Every style's full parameter object fits in a few hundred bytes; the cap
# keeps parsing cheap (no giant numbers, no deep nesting) whatever is sent.
PARAMS_MAX_LENGTH = 4096


def style_choices() -> list[tuple[str, str]]:
    return [(slug, style.label) for slug, style in processing.STYLES.items()]


def param_field(style: str, name: str) -> str:
    """The form field name of one style parameter on the upload page."""
    return f"{PARAM_PREFIX}{style}:{name}"


def _json_object(raw: str, message: str) -> dict:
    """Parse ``raw`` as a JSON object, or raise a ValidationError with
    ``message``: malformed, too deeply nested or with numbers beyond
    Python's limits, never a 500."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise forms.ValidationError(message) from None
    if not isinstance(value, dict):
        raise forms.ValidationError(message)
    return value


def _params_from_fields(data) -> dict[str, dict]:
    """``{style: {name: value}}`` from ``param:<style>:<name>`` fields."""
    collected: dict[str, dict] = {}
    for key, value in data.items():
        if key.startswith(PARAM_PREFIX) and key.count(":") == 2:
            _prefix, slug, name = key.split(":")
            collected.setdefault(slug, {})[name] = value
    return collected


def _probe_video(upload, max_bytes: int) -> video.MediaInfo:
    """The clip's header facts within the studio's limits, or a
    ValidationError with the engine's message (nothing is decoded yet)."""
    # PyAV reads a file on disk best: large uploads are spooled to one.
    source = (
        upload.temporary_file_path()
        if hasattr(upload, "temporary_file_path")
        else upload.file
    )
    try:
        return video.probe(
            source,
            max_seconds=settings.STUDIO_MAX_VIDEO_SECONDS,
            max_pixels=settings.STUDIO_MAX_VIDEO_PIXELS,
            max_bytes=max_bytes,
        )
    except video.InvalidVideo as exc:
        raise forms.ValidationError(str(exc)) from None
    finally:
        upload.seek(0)


class FirstErrorMixin:
    def first_error(self) -> tuple[str, str]:
        """The first error as (field, message), for the JSON API."""
        for field, errors in self.errors.items():
            return ("" if field == "__all__" else field), str(errors[0])
        return "", ""


class SignUpForm(UserCreationForm):
    """Username and password; the email is optional (password reset only)."""

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
        help_texts = {"email": _("Optional: only used to reset a forgotten password.")}


class ArtworkRequestForm(FirstErrorMixin, forms.Form):
    """One photo (or short video, or animated GIF/WebP) and the styles (and
    the owner's presets) to render it in.

    Used by the upload page and by ``POST /api/artworks/``. Parameters come
    either as a JSON object (``params``: style slug -> {name: value}) or, from
    the page, as individual ``param:<style>:<name>`` fields. Each ``preset``
    (the id of one of the owner's presets, repeatable) adds its recipe.
    """

    image = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPTED_TYPES}),
        error_messages={"required": _("Choose a photo to upload.")},
    )
    style = forms.MultipleChoiceField(
        label=_("Styles"),
        choices=style_choices,
        widget=forms.CheckboxSelectMultiple,
        # Required unless a preset is given: checked in clean().
        required=False,
    )
    preset = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    params = forms.CharField(
        required=False, max_length=PARAMS_MAX_LENGTH, widget=forms.HiddenInput
    )

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_image(self):
        upload = self.cleaned_data["image"]
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        # A video or an animated GIF/WebP (from its header; a still GIF or
        # WebP is a photo) has its own size, length and frame-size limits.
        moving = video.is_moving(upload)
        limit = (
            settings.STUDIO_MAX_VIDEO_BYTES
            if moving
            else settings.STUDIO_MAX_UPLOAD_BYTES
        )
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s; the limit is %(limit)s.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
        if moving:
            self.image_info = _probe_video(upload, limit)
            return upload
        upload.seek(0)
        data = upload.read()
        upload.seek(0)
        try:
            self.image_info = processing.inspect(
                data, max_pixels=settings.STUDIO_MAX_PIXELS
            )
        except processing.InvalidImage as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload

    def clean_params(self):
        raw = self.cleaned_data.get("params") or ""
        message = _("params must be a JSON object: style -> {name: value}.")
        if raw.strip():
            value = _json_object(raw, message)
            if not all(isinstance(v, dict) for v in value.values()):
                raise forms.ValidationError(message)
            return value
        return _params_from_fields(self.data)

    def clean(self):
        cleaned = super().clean()
        styles = cleaned.get("style") or []
        params = cleaned.get("params") or {}
        unknown = sorted(set(params) - set(processing.STYLES))
        if unknown:
            self.add_error(
                "params", _("Unknown style in params: %s.") % ", ".join(unknown)
            )
            return cleaned
        preset_recipes = self._preset_recipes()
        if not styles and not preset_recipes and "preset" not in self.errors:
            self.add_error("style", _("Choose at least one style."))
        recipes = []
        for slug in styles:
            try:
                recipes.append(
                    Recipe(slug, processing.validate_params(slug, params.get(slug)))
                )
            except ValueError as exc:
                self.add_error("params", f"{processing.STYLES[slug].label}: {exc}")
        cleaned["recipes"] = recipes + preset_recipes
        return cleaned

    def _preset_recipes(self) -> list[Recipe]:
        """The recipes of the ``preset`` ids, in the order given; someone
        else's id reads exactly like a missing one."""
        raw = self.cleaned_data.get("preset") or []
        if not raw:
            return []
        ids = [pk for pk in map(pk_from, raw) if pk is not None]
        owner_id = self.owner.pk if self.owner is not None else None
        found = Preset.objects.filter(owner_id=owner_id, pk__in=ids).in_bulk()
        if len(ids) != len(raw) or any(pk not in found for pk in ids):
            self.add_error("preset", _("No such preset."))
            return []
        try:
            return [presets.preset_recipe(found[pk]) for pk in ids]
        except ValueError as exc:
            self.add_error("preset", str(exc))
            return []

    def save(self, owner) -> list[Artwork]:
        """Store the photo and queue its artworks (``limits.UploadRefused``
        when a quota or queue cap says no)."""
        return services.artworks_create(
            owner,
            self.cleaned_data["image"],
            self.image_info,
            self.cleaned_data["recipes"],
        )


class PhotoArtworkRequestForm(ArtworkRequestForm):
    """New artworks of a photo the user already uploaded (remix).

    Same fields and answers as :class:`ArtworkRequestForm`, with ``photo``
    (the id of one of the user's photos) instead of a file.
    """

    image = None
    photo = forms.IntegerField(
        label=_("Photo"),
        min_value=1,
        error_messages={
            "required": _("Choose a photo."),
            "invalid": _("photo must be the id of one of your photos."),
        },
    )

    def __init__(self, owner, *args, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)

    def clean_photo(self):
        photo = Photo.objects.filter(
            pk=self.cleaned_data["photo"], owner_id=self.owner.pk
        ).first()
        if photo is None:
            # Someone else's id reads exactly like a missing one.
            raise forms.ValidationError(_("No such photo."))
        return photo

    def save(self, owner) -> list[Artwork]:
        """Queue new artworks of the stored photo (no file is written)."""
        return services.artworks_create_from_photo(
            owner, self.cleaned_data["photo"], self.cleaned_data["recipes"]
        )


class PreviewForm(FirstErrorMixin, forms.Form):
    """One live-preview request: a photo (own id or small upload), one style
    and its parameters as a JSON object."""

    photo = forms.IntegerField(required=False, min_value=1)
    image = forms.FileField(required=False)
    style = forms.ChoiceField(
        choices=style_choices,
        error_messages={
            "required": _("Choose a style."),
            "invalid_choice": _("Unknown style."),
        },
    )
    params = forms.CharField(required=False, max_length=PARAMS_MAX_LENGTH)
    # The size of the photo the sent image was scaled down from (the editor
    # scales it in the browser), so that brush sizes can be scaled with it.
    source_width = forms.IntegerField(required=False, min_value=1, max_value=10**6)
    source_height = forms.IntegerField(required=False, min_value=1, max_value=10**6)

    def __init__(self, owner, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def full_size(self) -> tuple[int, int] | None:
        """(width, height) of the full-size photo the preview stands for:
        the stored photo's, the size the editor says it scaled the image
        down from, or None (the sent image is the photo itself)."""
        photo = self.cleaned_data.get("source")
        if photo is not None:
            return photo.width, photo.height
        width = self.cleaned_data.get("source_width")
        height = self.cleaned_data.get("source_height")
        return (width, height) if width and height else None

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if upload is not None and upload.size > settings.STUDIO_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s; the limit is %(limit)s.")
                % {
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(settings.STUDIO_MAX_UPLOAD_BYTES),
                }
            )
        return upload

    def clean_params(self):
        raw = (self.cleaned_data.get("params") or "").strip()
        if not raw:
            return {}
        return _json_object(raw, _("params must be a JSON object: {name: value}."))

    def clean(self):
        cleaned = super().clean()
        photo_id, upload = cleaned.get("photo"), cleaned.get("image")
        if self.errors:
            return cleaned
        if (photo_id is None) == (upload is None):
            raise forms.ValidationError(_("Send either a photo id or an image."))
        if photo_id is not None:
            photo = Photo.objects.filter(pk=photo_id, owner_id=self.owner.pk).first()
            if photo is None:
                self.add_error("photo", _("No such photo."))
                return cleaned
            if photo.media == Media.VIDEO and not photo.preview_proxy:
                # Its original is a video file (up to STUDIO_MAX_VIDEO_BYTES)
                # that the preview's image decoder cannot read: say so at once.
                self.add_error(
                    "photo",
                    _(
                        "Live previews are made of photos and animations; the "
                        "artworks of a video are rendered all the same."
                    ),
                )
                return cleaned
            cleaned["source"] = photo
        try:
            cleaned["params"] = processing.validate_params(
                cleaned["style"], cleaned.get("params")
            )
        except ValueError as exc:
            self.add_error("params", str(exc))
        return cleaned

    def source(self) -> tuple[str, Callable[[], bytes]]:
        """``(content_hash, load)`` of the photo to preview."""
        photo = self.cleaned_data.get("source")
        if photo is not None:
            return photo.content_hash, preview.stored_source(photo)
        upload = self.cleaned_data["image"]
        upload.seek(0)
        data = upload.read()
        return hashlib.sha256(data).hexdigest(), lambda: data


class ReportForm(FirstErrorMixin, forms.Form):
    """A user's report of someone else's public artwork."""

    reason = forms.CharField(
        label=_("What is wrong with it?"),
        max_length=1000,
        strip=True,
        error_messages={
            "required": _("Please say what is wrong with this artwork."),
            "max_length": _("Please keep the reason under 1000 characters."),
        },
    )
