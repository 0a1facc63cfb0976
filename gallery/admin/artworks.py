"""Artworks and the reports users make about them.

Every moderator action goes through ``gallery.services`` or
``gallery.storage.retention`` (never raw updates), and is written to Django's
LogEntry with who and when. Files follow rows (``gallery.storage.files``), so
every delete here removes the files that no other row shares.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gallery import services
from gallery.admin.dashboard import dashboard_figures
from gallery.admin.display import image_tag, size_text
from gallery.models import FILE_KINDS, Artwork, Report
from gallery.storage import retention
from gallery.web.media import file_response

# Reports ------------------------------------------------------------------------


class ReportInline(admin.TabularInline):
    model = Report
    extra = 0
    fields = ("reporter", "reason", "created")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("reports from users")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "artwork_link",
        "artwork_moderation",
        "reporter",
        "short_reason",
        "created",
    )
    list_filter = ("artwork__moderation", ("created", admin.DateFieldListFilter))
    search_fields = ("reason", "reporter__username", "artwork__owner__username")
    list_select_related = ("artwork", "reporter")
    readonly_fields = ("artwork", "reporter", "reason", "created")

    def has_add_permission(self, request) -> bool:
        return False  # reports come from users, on the gallery pages

    @admin.display(description=_("artwork"), ordering="artwork")
    def artwork_link(self, obj: Report) -> str:
        url = reverse("admin:gallery_artwork_change", args=[obj.artwork_id])
        return format_html('<a href="{}">{}</a>', url, obj.artwork)

    @admin.display(description=_("moderation"), ordering="artwork__moderation")
    def artwork_moderation(self, obj: Report) -> str:
        return obj.artwork.get_moderation_display()

    @admin.display(description=_("reason"))
    def short_reason(self, obj: Report) -> str:
        return Truncator(obj.reason).chars(80)


# Artworks -------------------------------------------------------------------------


class HasReportsFilter(admin.SimpleListFilter):
    title = _("reports")
    parameter_name = "reports"

    def lookups(self, request, model_admin):
        return [("yes", _("Reported by users")), ("no", _("No reports"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(reports__isnull=False).distinct()
        if self.value() == "no":
            return queryset.filter(reports__isnull=True)
        return queryset


@admin.register(Artwork)
class ArtworkAdmin(admin.ModelAdmin):
    list_display = (
        "thumbnail_preview",
        "id",
        "owner",
        "title",
        "style",
        "status",
        "moderation",
        "public",
        "report_count",
        "size_on_disk",
        "duration_display",
        "short_error",
        "created",
    )
    list_display_links = ("thumbnail_preview", "id")
    list_filter = (
        "status",
        "style",
        "public",
        "moderation",
        HasReportsFilter,
        ("created", admin.DateFieldListFilter),
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = (
        "=id",
        "owner__username",
        "owner__studio_profile__display_name",
        "photo__original_name",
    )
    date_hierarchy = "created"
    list_per_page = 50
    inlines = [ReportInline]
    actions = [
        "hide_selected",
        "unhide_selected",
        "rerender_selected",
        "purge_failed_selected",
        "delete_selected",
    ]
    fieldsets = (
        (None, {"fields": ("previews", "owner", "photo_link", "public", "moderation")}),
        (
            _("Rendering"),
            {
                "fields": (
                    "style",
                    "params",
                    "engine_version",
                    "status",
                    "error",
                    "attempts",
                    "job_id",
                    "recipe_key",
                )
            },
        ),
        (
            _("Storage"),
            {
                "fields": (
                    "result",
                    "thumbnail",
                    "animation",
                    "result_bytes",
                    "thumbnail_bytes",
                    "animation_bytes",
                )
            },
        ),
        (
            _("Times"),
            {"fields": ("created", "queued_at", "started_at", "finished_at")},
        ),
    )
    # Only "public" is editable: status, files and recipe change through the
    # pipeline (re-render), moderation through the logged actions.
    readonly_fields = (
        "previews",
        "owner",
        "photo_link",
        "moderation",
        "style",
        "params",
        "engine_version",
        "status",
        "error",
        "attempts",
        "job_id",
        "recipe_key",
        "result",
        "thumbnail",
        "animation",
        "result_bytes",
        "thumbnail_bytes",
        "animation_bytes",
        "created",
        "queued_at",
        "started_at",
        "finished_at",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("owner", "photo")
            .with_stored_bytes()
            .annotate(report_total=Count("reports", distinct=True))
        )

    def get_urls(self):
        urls = [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="gallery_dashboard",
            ),
            path(
                "<int:pk>/file/<str:kind>/",
                self.admin_site.admin_view(self.file_view),
                name="gallery_artwork_file",
            ),
        ]
        return urls + super().get_urls()

    # Columns ----------------------------------------------------------------

    def _file_url(self, obj: Artwork, kind: str) -> str | None:
        if not obj.file(kind):
            return None
        return reverse("admin:gallery_artwork_file", args=[obj.pk, kind])

    @admin.display(description=_("thumbnail"))
    def thumbnail_preview(self, obj: Artwork) -> str:
        return image_tag(self._file_url(obj, "thumbnail"), size=64, alt=str(obj))

    @admin.display(description=_("previews"))
    def previews(self, obj: Artwork) -> str:
        parts = [
            (kind, label, self._file_url(obj, kind))
            for kind, label in (
                ("thumbnail", _("thumbnail")),
                ("result", _("result")),
                ("original", _("original")),
            )
        ]
        thumb = image_tag(parts[0][2], size=240, alt=str(obj))
        links = format_html_join(
            " · ",
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            ((url, label) for _kind, label, url in parts if url),
        )
        return format_html("{}<br>{}", thumb, links)

    @admin.display(description=_("photo"))
    def photo_link(self, obj: Artwork) -> str:
        url = reverse("admin:gallery_photo_change", args=[obj.photo_id])
        return format_html('<a href="{}">{}</a>', url, obj.photo)

    @admin.display(description=_("title"), ordering="photo__original_name")
    def title(self, obj: Artwork) -> str:
        return Truncator(obj.photo.original_name).chars(40)

    @admin.display(description=_("reports"), ordering="report_total")
    def report_count(self, obj: Artwork) -> int:
        return obj.report_total

    @admin.display(description=_("size on disk"), ordering="stored_bytes")
    def size_on_disk(self, obj: Artwork) -> str:
        return size_text(obj.stored_bytes)

    @admin.display(description=_("duration"))
    def duration_display(self, obj: Artwork) -> str:
        seconds = obj.duration
        return "—" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description=_("error"))
    def short_error(self, obj: Artwork) -> str:
        return Truncator(obj.error).chars(60) if obj.error else ""

    # Deleting goes through the service: the photo goes with its last artwork,
    # and files follow the rows after commit.

    def delete_model(self, request, obj: Artwork) -> None:
        services.artwork_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for artwork in queryset.select_related("photo"):
            services.artwork_delete(artwork)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            func, name, _label = actions["delete_selected"]
            actions["delete_selected"] = (
                func,
                name,
                _("Delete selected artworks with their files"),
            )
        return actions

    # Actions --------------------------------------------------------------------

    def _moderate(self, request, queryset, state: str, log: str, done: str) -> None:
        count = 0
        for artwork in queryset:
            if services.artwork_set_moderation(artwork, state):
                self.log_change(request, artwork, log)
                count += 1
        self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Hide selected artworks"), permissions=["change"])
    def hide_selected(self, request, queryset) -> None:
        self._moderate(
            request,
            queryset,
            Artwork.Moderation.HIDDEN,
            "Hidden by a moderator",
            _("%(count)d artwork(s) hidden."),
        )

    @admin.action(
        description=_("Unhide / dismiss reports (make visible)"), permissions=["change"]
    )
    def unhide_selected(self, request, queryset) -> None:
        self._moderate(
            request,
            queryset,
            Artwork.Moderation.VISIBLE,
            "Made visible by a moderator",
            _("%(count)d artwork(s) visible again."),
        )

    @admin.action(description=_("Re-render selected artworks"), permissions=["change"])
    def rerender_selected(self, request, queryset) -> None:
        queued = skipped = 0
        for artwork in queryset.select_related("photo"):
            if services.artwork_rerender(artwork):
                self.log_change(request, artwork, "Re-render queued by a moderator")
                queued += 1
            else:
                skipped += 1
        self.message_user(
            request,
            _(
                "%(queued)d artwork(s) queued again; %(skipped)d skipped (already queued or processing)."
            )
            % {"queued": queued, "skipped": skipped},
            messages.SUCCESS if queued else messages.WARNING,
        )

    @admin.action(
        description=_("Purge failed artworks among the selected"),
        permissions=["delete"],
    )
    def purge_failed_selected(self, request, queryset) -> None:
        failed = queryset.filter(status=Artwork.Status.FAILED)
        ids = list(failed.values_list("pk", flat=True))
        # Logged before the delete, while the objects still exist.
        self.log_deletions(request, Artwork.objects.filter(pk__in=ids))
        result = retention.purge_failed(timedelta(0), artwork_ids=ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed artwork purged (%(photos)d photo, %(size)s).",
                "%(count)d failed artworks purged (%(photos)d photos, %(size)s).",
                result.artworks,
            )
            % {
                "count": result.artworks,
                "photos": result.photos,
                "size": size_text(result.bytes),
            },
            messages.SUCCESS,
        )

    # Extra views ------------------------------------------------------------------

    def file_view(self, request: HttpRequest, pk: int, kind: str) -> FileResponse:
        """A stored file for the admin's previews (any owner, private too)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in FILE_KINDS:
            raise Http404("No such file.")
        artwork = get_object_or_404(Artwork.objects.select_related("photo"), pk=pk)
        return file_response(artwork.file(kind), cache_seconds=600)

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Studio dashboard"),
            **dashboard_figures(),
        }
        return TemplateResponse(request, "admin/gallery/dashboard.html", context)
