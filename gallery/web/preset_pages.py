"""The presets page (list, rename, delete, share) and "save as preset" on
the artwork page. The editor saves and applies presets through the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from gallery import presets
from gallery.models import Artwork, Preset


def editor_link(request: HttpRequest, preset: Preset) -> str:
    """The absolute link that opens the editor with the preset's recipe in
    its query string: anyone with it can apply the same look."""
    query = presets.recipe_query(preset.style, preset.params, preset.name)
    return request.build_absolute_uri(f"{reverse('gallery:upload')}?{query}")


@login_required
@require_GET
def preset_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"preset": preset, "link": editor_link(request, preset)}
        for preset in Preset.objects.filter(owner=request.user)
    ]
    return render(request, "gallery/presets.html", {"rows": rows})


@login_required
@require_POST
def preset_rename(request: HttpRequest, pk: int) -> HttpResponse:
    preset = get_object_or_404(Preset, owner=request.user, pk=pk)
    try:
        presets.preset_rename(preset, request.POST.get("name", ""))
    except presets.PresetRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("The preset is renamed."))
    return redirect("gallery:presets")


@login_required
@require_POST
def preset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    preset = get_object_or_404(Preset, owner=request.user, pk=pk)
    presets.preset_delete(preset)
    messages.success(request, _("The preset is deleted."))
    return redirect("gallery:presets")


@login_required
@require_POST
def artwork_save_preset(request: HttpRequest, pk: int) -> HttpResponse:
    """Save one of the user's artworks' recipe as a preset."""
    artwork = get_object_or_404(Artwork, owner=request.user, pk=pk)
    try:
        preset = presets.preset_create(
            request.user, request.POST.get("name", ""), artwork.style, artwork.params
        )
    except presets.PresetRefused as refusal:
        messages.error(request, refusal.message)
        return redirect(artwork)
    messages.success(
        request, _("Saved as the preset “%(name)s”.") % {"name": preset.name}
    )
    return redirect(artwork)
