from __future__ import annotations

from django.contrib import admin

from gallery.models import Artwork, Photo


class ArtworkInline(admin.TabularInline):
    model = Artwork
    extra = 0
    fields = ("style", "status", "public", "created")
    readonly_fields = fields
    show_change_link = True


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "original_name",
        "width",
        "height",
        "byte_size",
        "created",
    )
    list_filter = ("created",)
    search_fields = ("owner__username", "original_name", "content_hash")
    readonly_fields = (
        "original",
        "format",
        "width",
        "height",
        "byte_size",
        "content_hash",
    )
    inlines = [ArtworkInline]


@admin.register(Artwork)
class ArtworkAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "style",
        "status",
        "public",
        "created",
        "finished_at",
    )
    list_filter = ("status", "style", "public", "created")
    search_fields = ("owner__username",)
    readonly_fields = (
        "photo",
        "owner",
        "style",
        "params",
        "engine_version",
        "result",
        "thumbnail",
        "job_id",
        "queued_at",
        "started_at",
        "finished_at",
    )
