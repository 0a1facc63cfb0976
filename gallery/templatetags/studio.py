"""Template filters for the gallery pages."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

import processing

register = template.Library()


@register.filter
def author_name(user) -> str:
    """The public name of a user: the profile's display name, else the username."""
    profile = getattr(user, "studio_profile", None) if user is not None else None
    try:
        name = profile.display_name if profile is not None else ""
    except AttributeError:
        name = ""
    return name or user.get_username()


@register.filter
def style_label(slug: str) -> str:
    """The translated label of a style slug (the slug itself when unknown)."""
    style = processing.STYLES.get(slug)
    return gettext(style.label) if style else slug


@register.filter
def style_description(slug: str) -> str:
    style = processing.STYLES.get(slug)
    return gettext(style.description) if style else ""


@register.filter
def recipe_rows(artwork) -> list[tuple[str, object]]:
    """(translated parameter label, value) of an artwork's recipe."""
    style = processing.STYLES.get(artwork.style)
    rows = []
    for param in style.params if style else ():
        value = artwork.params.get(param.name, param.default)
        if param.type == "bool":
            value = gettext("On") if value else gettext("Off")
        rows.append((gettext(param.label), value))
    return rows
