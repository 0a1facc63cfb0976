"""The registry's user-visible texts, marked for translation.

``processing`` has no Django (and so no gettext); its labels, descriptions and
parameter help are English. Listing them here lets ``makemessages`` extract
them; templates and views translate them at runtime with ``gettext(text)``.
``tests/gallery/test_pages.py`` fails when the registry gains a text that is
missing here or untranslated.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

REGISTRY_TEXTS = (
    gettext_noop("Pencil sketch"),
    gettext_noop("Gray graphite drawing: strong edges become pencil strokes."),
    gettext_noop("Smoothing size"),
    gettext_noop("Spatial extent of the edge-preserving smoothing, in pixels (0-200)."),
    gettext_noop("Edge sensitivity"),
    gettext_noop(
        "How different colours must be to count as an edge (0-1); lower keeps more edges."
    ),
    gettext_noop("Shading"),
    gettext_noop("Brightness of the paper and strokes (0-0.1); higher is lighter."),
    gettext_noop("Colour pencil"),
    gettext_noop("Pencil strokes tinted with the photo's own colours."),
    gettext_noop("Oil painting"),
    gettext_noop(
        "Thick dabs of paint: each pixel takes the dominant colour around it."
    ),
    gettext_noop("Brush size"),
    gettext_noop("Neighbourhood radius in pixels (window is 2*size+1 wide)."),
    gettext_noop("Colour simplification"),
    gettext_noop("Divides the brightness levels; higher gives larger flat patches."),
    gettext_noop("Watercolour"),
    gettext_noop("Soft washes of colour with darkened edges."),
    gettext_noop("Colour blending"),
    gettext_noop(
        "How much different colours blend together (0-1); higher is smoother."
    ),
    gettext_noop("Cartoon"),
    gettext_noop("Flat areas of colour with bold dark outlines."),
    gettext_noop("How much different colours blend before flattening (0-1)."),
    gettext_noop("Colour levels"),
    gettext_noop("Number of tones per colour channel (2-16); fewer is flatter."),
    gettext_noop("Outline width"),
    gettext_noop("Thickness of the dark outlines in pixels (0 turns them off)."),
    gettext_noop("Outline sensitivity"),
    gettext_noop(
        "Edge strength needed for an outline (0.01-1); lower draws more lines."
    ),
)
