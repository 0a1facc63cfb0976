"""Presets in the JSON API: list, save, rename, delete.

``POST`` takes form fields like the rest of the API (``params`` is a JSON
object as a string); ``PATCH`` takes a JSON body ``{"name": ...}``.
"""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Form, Router, Schema, Status

from gallery import presets
from gallery.models import Preset
from gallery.web.api import OpenOut
from gallery.web.api_auth import ErrorOut, members
from gallery.web.refusals import json_error

router = Router(tags=["presets"])
SIGN_IN = gettext_lazy("Sign in to keep presets.")


class PresetOut(OpenOut):
    id: int
    name: str
    style: str
    params: dict


class PresetsOut(Schema):
    presets: list[PresetOut]


class RenameIn(Schema):
    name: str


def _own_preset(request: HttpRequest, pk: int) -> Preset | None:
    return Preset.objects.filter(owner_id=request.user.pk, pk=pk).first()


@router.get(
    "/presets/",
    url_name="api_presets",
    response={200: PresetsOut, 401: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="listPresets",
    summary="Your presets",
)
def api_presets(request: HttpRequest):
    mine = Preset.objects.filter(owner_id=request.user.pk)
    return {"presets": [presets.preset_as_dict(p) for p in mine]}


@router.post(
    "/presets/",
    url_name="api_presets",
    response={201: PresetOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="createPreset",
    summary="Save a style and its parameters under a name",
)
def api_preset_create(
    request: HttpRequest,
    name: Form[str],
    style: Form[str],
    params: Form[str] = "",
):
    """``params``: a JSON object ``{name: value}``; missing parameters take
    the style's defaults."""
    try:
        values = json.loads(params) if params.strip() else {}
    except (json.JSONDecodeError, RecursionError):
        values = None
    if not isinstance(values, dict):
        return json_error(_("params must be a JSON object: {name: value}."), "params")
    try:
        preset = presets.preset_create(request.user, name, style, values)
    except presets.PresetRefused as refusal:
        return json_error(refusal.message, refusal.field)
    return Status(201, presets.preset_as_dict(preset))


@router.patch(
    "/presets/{int:pk}/",
    url_name="api_preset",
    response={
        200: PresetOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
    },
    auth=members(SIGN_IN),
    operation_id="renamePreset",
    summary="Rename one of your presets",
)
def api_preset_rename(request: HttpRequest, pk: int, body: RenameIn):
    preset = _own_preset(request, pk)
    if preset is None:
        return json_error(_("No such preset."), status=404)
    try:
        presets.preset_rename(preset, body.name)
    except presets.PresetRefused as refusal:
        return json_error(refusal.message, refusal.field)
    return presets.preset_as_dict(preset)


@router.delete(
    "/presets/{int:pk}/",
    url_name="api_preset",
    response={204: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="deletePreset",
    summary="Delete one of your presets",
)
def api_preset_delete(request: HttpRequest, pk: int):
    preset = _own_preset(request, pk)
    if preset is None:
        return json_error(_("No such preset."), status=404)
    presets.preset_delete(preset)
    return Status(204, None)
