"""Photos, with their artworks inline."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from gallery.admin.display import image_tag, size_text
from gallery.models import Artwork, Photo
from gallery.web.media import file_response


class ArtworkInline(admin.TabularInline):
    model = Artwork
    extra = 0
    fields = ("style", "status", "moderation", "public", "created")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# Photos ---------------------------------------------------------------------------


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = (
        "preview",
        "id",
        "owner",
        "original_name",
        "dimensions",
        "original_size",
        "size_on_disk",
        "artwork_count",
        "created",
    )
    list_display_links = ("preview", "id")
    list_filter = (
        "format",
        ("created", admin.DateFieldListFilter),
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("=id", "owner__username", "original_name", "content_hash")
    date_hierarchy = "created"
    list_per_page = 50
    fields = (
        "preview_large",
        "owner",
        "original_name",
        "original",
        "format",
        "width",
        "height",
        "media",
        "duration",
        "frames",
        "byte_size",
        "content_hash",
        "created",
    )
    # The file, its measurements and its hash describe the stored bytes:
    # editing them would make the row lie. Only the display name is free.
    readonly_fields = (
        "preview_large",
        "owner",
        "original",
        "format",
        "width",
        "height",
        "media",
        "duration",
        "frames",
        "byte_size",
        "content_hash",
        "created",
    )
    inlines = [ArtworkInline]

    def get_queryset(self, request):
        results = (
            Artwork.objects.filter(photo=OuterRef("pk"))
            .values("photo")
            .annotate(total=Sum(Artwork.STORED_BYTES))
            .values("total")
        )
        thumb = Artwork.objects.filter(photo=OuterRef("pk")).exclude(thumbnail="")
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(
                artwork_total=Count("artworks", distinct=True),
                stored_bytes=F("byte_size") + Coalesce(Subquery(results), Value(0)),
                thumb_artwork=Subquery(thumb.order_by("-pk").values("pk")[:1]),
            )
        )

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/original/",
                self.admin_site.admin_view(self.original_view),
                name="gallery_photo_original",
            )
        ]
        return urls + super().get_urls()

    def original_view(self, request: HttpRequest, pk: int) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        photo = get_object_or_404(Photo, pk=pk)
        return file_response(photo.original, cache_seconds=600)

    @admin.display(description=_("thumbnail"))
    def preview(self, obj: Photo) -> str:
        # An artwork's thumbnail: the original may be a 40 MB HEIC.
        pk = getattr(obj, "thumb_artwork", None)
        url = (
            reverse("admin:gallery_artwork_file", args=[pk, "thumbnail"])
            if pk
            else None
        )
        return image_tag(url, size=64, alt=str(obj))

    @admin.display(description=_("original"))
    def preview_large(self, obj: Photo) -> str:
        url = reverse("admin:gallery_photo_original", args=[obj.pk])
        return format_html(
            '{}<br><a href="{}" target="_blank" rel="noopener">{}</a>',
            image_tag(url, size=320, alt=str(obj)),
            url,
            _("open the original"),
        )

    @admin.display(description=_("size"))
    def dimensions(self, obj: Photo) -> str:
        return f"{obj.width} × {obj.height}"

    @admin.display(description=_("original size"), ordering="byte_size")
    def original_size(self, obj: Photo) -> str:
        return size_text(obj.byte_size)

    @admin.display(description=_("size on disk"), ordering="stored_bytes")
    def size_on_disk(self, obj: Photo) -> str:
        return size_text(obj.stored_bytes)

    @admin.display(description=_("artworks"), ordering="artwork_total")
    def artwork_count(self, obj: Photo) -> int:
        return obj.artwork_total
