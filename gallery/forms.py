"""Forms: server-side validation of uploads and sign-up."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

import processing
from gallery.models import STYLE_CHOICES
from gallery.services import Recipe

ACCEPTED_TYPES = "image/jpeg,image/png,image/webp,image/gif,image/heic,image/heif,.jpg,.jpeg,.png,.webp,.gif,.heic,.heif"


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class ArtworkRequestForm(forms.Form):
    """One photo and the styles to render it in.

    Used by the upload page and by ``POST /api/artworks/``. Parameters come
    either as a JSON object (``params``: style slug -> {name: value}) or, from
    the page, as individual ``param:<style>:<name>`` fields.
    """

    image = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPTED_TYPES}),
        error_messages={"required": _("Choose a photo to upload.")},
    )
    style = forms.MultipleChoiceField(
        label=_("Styles"),
        choices=STYLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one style.")},
    )
    params = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_image(self):
        upload = self.cleaned_data["image"]
        limit = settings.STUDIO_MAX_UPLOAD_BYTES
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s; the limit is %(limit)s.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
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
        if raw.strip():
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise forms.ValidationError(
                    _("params must be a JSON object: style -> {name: value}.")
                ) from None
            if not isinstance(value, dict) or not all(
                isinstance(v, dict) for v in value.values()
            ):
                raise forms.ValidationError(
                    _("params must be a JSON object: style -> {name: value}.")
                )
            return value
        collected: dict[str, dict] = {}
        for key, val in self.data.items():
            if key.startswith("param:") and key.count(":") == 2:
                _prefix, slug, name = key.split(":")
                collected.setdefault(slug, {})[name] = val
        return collected

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
        recipes = []
        for slug in styles:
            try:
                recipes.append(
                    Recipe(slug, processing.validate_params(slug, params.get(slug)))
                )
            except ValueError as exc:
                self.add_error("params", f"{processing.STYLES[slug].label}: {exc}")
        cleaned["recipes"] = recipes
        return cleaned

    def first_error(self) -> tuple[str, str]:
        """The first error as (field, message), for the JSON API."""
        for field, errors in self.errors.items():
            return ("" if field == "__all__" else field), str(errors[0])
        return "", ""
