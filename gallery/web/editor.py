"""The upload editor's configuration: style cards, slider panels, and the
JSON document its script reads (URLs, limits, translated texts).

Everything here is derived from the style registry and the stage table, so a
new style or stage needs no change on this side.
"""

from __future__ import annotations

from django.conf import settings
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _

import processing
from gallery import presets
from gallery.models import Artwork, Preset
from gallery.pipeline.jobs import STAGES
from gallery.services import Recipe
from gallery.web.forms import ACCEPTED_TYPES, param_field
from processing import formats


def stage_labels() -> dict[str, str]:
    """Translated names of statuses and job stages, for the pages' scripts."""
    return {
        **{stage: str(label) for stage, label in STAGES.items()},
        "queue_position": _("Position in queue: %(n)s"),
        "eta": _("About %(n)s s left"),
    }


def linked_recipe(query: QueryDict) -> tuple[Recipe | None, str]:
    """The recipe of a shared preset link (``?style=oil&oil.size=5``), and
    an error message when the link's values are not valid."""
    try:
        return presets.recipe_from_query(query), ""
    except (ValueError, TypeError) as exc:
        return None, _("This link's recipe cannot be used: %(error)s") % {"error": exc}


def style_panels(
    posted: QueryDict | None, remix: Artwork | None, linked: Recipe | None = None
) -> list[dict]:
    """One card and slider panel per style, with the values to show.

    Values come from the posted form (after an error), else the remixed
    artwork's recipe or a shared preset link's, else the registry defaults.
    """
    chosen = set(posted.getlist("style")) if posted is not None else set()
    source = remix or linked
    if source and posted is None:
        chosen = {source.style}
    panels = []
    for style in processing.STYLES.values():
        initial = source.params if source and source.style == style.slug else {}
        params = []
        for p in style.params:
            field = param_field(style.slug, p.name)
            value = initial.get(p.name, p.default)
            if posted is not None:
                value = posted.get(field, value)
            if p.type == "bool":
                checked = str(value).strip().lower() in ("1", "true", "on")
                params.append(
                    {
                        **p.as_dict(),
                        "label": _(p.label),
                        "help": _(p.help) if p.help else "",
                        "checked": checked,
                        "value": checked,
                        "field": field,
                        "id": f"param-{style.slug}-{p.name}",
                    }
                )
                continue
            params.append(
                {
                    **p.as_dict(),
                    "label": _(p.label),
                    "help": _(p.help) if p.help else "",
                    "range": _("Range %(min)s–%(max)s.")
                    % {"min": f"{p.min:g}", "max": f"{p.max:g}"},
                    "value": value,
                    "field": field,
                    "id": f"param-{style.slug}-{p.name}",
                }
            )
        panels.append(
            {
                "slug": style.slug,
                "label": _(style.label),
                "description": _(style.description),
                "checked": style.slug in chosen,
                "params": params,
            }
        )
    return panels


def editor_config(owner=None) -> dict:
    """Everything the upload editor script needs, as one JSON document."""
    mine = Preset.objects.filter(owner_id=owner.pk) if owner is not None else []
    return {
        "presets": [presets.preset_as_dict(p) for p in mine],
        "styles": [
            {"slug": style.slug, "label": _(style.label)}
            for style in processing.STYLES.values()
        ],
        "maxBytes": settings.STUDIO_MAX_UPLOAD_BYTES,
        # Videos, and GIF/WebP (which may be animations: the server decides),
        # may be up to the video cap.
        "maxVideoBytes": max(
            settings.STUDIO_MAX_VIDEO_BYTES, settings.STUDIO_MAX_UPLOAD_BYTES
        ),
        "videoTypes": formats.moving_accept_list(),
        "animatableTypes": [
            t
            for f in formats.MOVING
            if f.moving == "animation"
            for t in (f.mime, *f.extensions)
        ],
        "types": ACCEPTED_TYPES.split(","),
        "urls": {
            "artworks": reverse("gallery:api_artworks"),
            "preview": reverse("gallery:api_preview"),
            "presets": reverse("gallery:api_presets"),
            "gallery": reverse("gallery:my_gallery"),
            # "/artworks/0/": the scripts put the real id in place of the 0.
            "artworkPage": reverse("gallery:artwork_detail", args=[0]),
            "artworkRetry": reverse("gallery:artwork_retry", args=[0]),
        },
        "stages": stage_labels(),
        "text": {
            "tooLarge": _("%(name)s is too large (%(size)s); the limit is %(limit)s."),
            "badType": _("%(name)s is not a supported image type."),
            "noPhoto": _("Choose at least one photo."),
            "noStyle": _("Choose at least one style."),
            "uploading": _("Uploading %(name)s…"),
            "uploaded": _("%(name)s uploaded."),
            "failedUpload": _("%(name)s could not be uploaded: %(error)s"),
            "network": _("The network connection failed."),
            "retry": _("Retry"),
            "open": _("Open"),
            "previewFailed": _("The preview could not be rendered."),
            "videoPreviewFailed": _(
                "This browser cannot show a frame of %(name)s: no preview, the "
                "upload works all the same."
            ),
            "previewBusy": _("Too many previews; waiting %(n)s s."),
            "allDone": _("All artworks are finished."),
            "summary": _("%(photos)s photos × %(styles)s styles = %(total)s artworks"),
            "remove": _("Remove"),
            "removeNamed": _("Remove %(name)s"),
            "previewLoading": _("Rendering the preview…"),
            "presetSaved": _("Saved as the preset “%(name)s”."),
            "presetFailed": _("The preset could not be saved: %(error)s"),
            "presetApplied": _("Applied the preset “%(name)s”."),
        },
    }
