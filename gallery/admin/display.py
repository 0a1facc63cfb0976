"""Small HTML pieces the admin pages share."""

from __future__ import annotations

from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html


def image_tag(url: str | None, *, size: int, alt: str) -> str:
    """A lazy-loaded thumbnail at most ``size`` pixels wide and high."""
    if not url:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" style="max-width:{}px;max-height:{}px;'
        'object-fit:contain;background:#eee;border-radius:3px">',
        url,
        alt,
        size,
        size,
    )


def size_text(value: int | None) -> str:
    return filesizeformat(value or 0)
