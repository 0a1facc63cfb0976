"""Presets: a member's named recipes (style + parameters) to apply again.

Parameters are checked against the style registry when a preset is saved,
and again when it is applied (:func:`preset_recipe`), so a preset made
before a style gained a parameter still gives a complete, valid recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

import processing
from gallery.models import Preset
from gallery.services import Recipe

MAX_PRESETS = 200
MAX_NAME_LENGTH = 80


class PresetRefused(Exception):
    """A preset that cannot be saved; ``message`` is fit for users and
    ``field`` names the input at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


def clean_name(name: str) -> str:
    """The name on one line without control characters (a NUL cannot even be
    stored in PostgreSQL), or "" when nothing is left."""
    printable = "".join(ch for ch in (name or "") if ch.isprintable() or ch.isspace())
    return " ".join(printable.split())


def _clean_name(name: str) -> str:
    name = clean_name(name)
    if not name:
        raise PresetRefused(_("Give the preset a name."), "name")
    if len(name) > MAX_NAME_LENGTH:
        raise PresetRefused(
            _("Keep the name under %(max)d characters.") % {"max": MAX_NAME_LENGTH},
            "name",
        )
    return name


def _clean_recipe(style: str, params: Mapping | None) -> dict:
    if style not in processing.STYLES:
        raise PresetRefused(_("Unknown style."), "style")
    try:
        return processing.validate_params(style, params)
    except (ValueError, TypeError) as exc:
        raise PresetRefused(str(exc), "params") from None


def preset_create(owner, name: str, style: str, params: Mapping | None) -> Preset:
    """Save a named recipe; ``PresetRefused`` names the bad field."""
    name = _clean_name(name)
    params = _clean_recipe(style, params)
    if Preset.objects.filter(owner=owner).count() >= MAX_PRESETS:
        raise PresetRefused(
            _("You have %(max)d presets; delete some to save new ones.")
            % {"max": MAX_PRESETS},
            "name",
        )
    try:
        with transaction.atomic():
            return Preset.objects.create(
                owner=owner, name=name, style=style, params=params
            )
    except IntegrityError:
        raise PresetRefused(
            _("You already have a preset of that name."), "name"
        ) from None


def preset_rename(preset: Preset, name: str) -> Preset:
    preset.name = _clean_name(name)
    try:
        with transaction.atomic():
            preset.save(update_fields=["name"])
    except IntegrityError:
        preset.refresh_from_db(fields=["name"])
        raise PresetRefused(
            _("You already have a preset of that name."), "name"
        ) from None
    return preset


def preset_delete(preset: Preset) -> None:
    preset.delete()


def preset_recipe(preset: Preset) -> Recipe:
    """The preset as a recipe for new artworks, with the current defaults
    for any parameter the preset predates (ValueError if the style or a
    value is no longer valid)."""
    known = processing.STYLES.get(preset.style)
    if known is None:
        raise ValueError(
            _("The style of preset “%(name)s” no longer exists.")
            % {"name": preset.name}
        )
    names = {p.name for p in known.params}
    params = {k: v for k, v in preset.params.items() if k in names}
    return Recipe(preset.style, processing.validate_params(preset.style, params))


def preset_as_dict(preset: Preset) -> dict:
    return {
        "id": preset.pk,
        "name": preset.name,
        "style": preset.style,
        "params": preset.params,
    }


def recipe_query(style: str, params: Mapping, name: str = "") -> str:
    """The query string that opens the editor with this recipe
    (``?style=oil&oil.size=5&...``), as a preset's share link carries it."""
    query = {"style": style}
    # Booleans as 1/0: the registry reads numbers and numeric strings.
    query.update(
        {
            f"{style}.{key}": int(value) if isinstance(value, bool) else value
            for key, value in params.items()
        }
    )
    if name:
        query["name"] = name
    return urlencode(query)


def recipe_from_query(query: Mapping[str, str]) -> Recipe | None:
    """The recipe of an editor link made by :func:`recipe_query`, or None when
    the link names no style; ValueError when a value is not valid."""
    style = query.get("style", "")
    if style not in processing.STYLES:
        return None
    prefix = f"{style}."
    params = {
        key[len(prefix) :]: value
        for key, value in query.items()
        if key.startswith(prefix)
    }
    return Recipe(style, processing.validate_params(style, params))
