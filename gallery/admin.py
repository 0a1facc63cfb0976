"""The moderator's panel: photos, artworks, reports, quotas, and a dashboard.

Every moderator action goes through ``gallery.services`` or
``gallery.retention`` (never raw updates), and is written to Django's
LogEntry with who and when. Files follow rows (``gallery.files``), so every
delete here removes the files that no other row shares.
"""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from pathlib import PurePosixPath

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from redis.exceptions import RedisError
from rq import Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from gallery import quotas, retention, services
from gallery.models import Artwork, Photo, Profile, Report

User = get_user_model()


def _stream(field) -> FileResponse:
    if not field:
        raise Http404("No file.")
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    suffix = PurePosixPath(field.name).suffix.lower()
    response = FileResponse(
        handle,
        content_type=mimetypes.types_map.get(suffix, "application/octet-stream"),
    )
    response["Cache-Control"] = "private, max-age=600"
    return response


def _image(url: str | None, *, size: int, alt: str) -> str:
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


def _bytes(value: int | None) -> str:
    return filesizeformat(value or 0)


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


class ArtworkInline(admin.TabularInline):
    model = Artwork
    extra = 0
    fields = ("style", "status", "moderation", "public", "created")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


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
            {"fields": ("result", "thumbnail", "result_bytes", "thumbnail_bytes")},
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
        "result_bytes",
        "thumbnail_bytes",
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
            .annotate(
                report_total=Count("reports", distinct=True),
                stored_bytes=F("result_bytes") + F("thumbnail_bytes"),
            )
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
        field = obj.photo.original if kind == "original" else getattr(obj, kind)
        if not field:
            return None
        return reverse("admin:gallery_artwork_file", args=[obj.pk, kind])

    @admin.display(description=_("thumbnail"))
    def thumbnail_preview(self, obj: Artwork) -> str:
        return _image(self._file_url(obj, "thumbnail"), size=64, alt=str(obj))

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
        thumb = _image(parts[0][2], size=240, alt=str(obj))
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
        return _bytes(obj.stored_bytes)

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
                "size": _bytes(result.bytes),
            },
            messages.SUCCESS,
        )

    # Extra views ------------------------------------------------------------------

    def file_view(self, request: HttpRequest, pk: int, kind: str) -> FileResponse:
        """A stored file for the admin's previews (any owner, private too)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in {"original", "result", "thumbnail"}:
            raise Http404("No such file.")
        artwork = Artwork.objects.select_related("photo").filter(pk=pk).first()
        if artwork is None:
            raise Http404("No such artwork.")
        field = artwork.photo.original if kind == "original" else getattr(artwork, kind)
        return _stream(field)

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Studio dashboard"),
            **dashboard_figures(),
        }
        return TemplateResponse(request, "admin/gallery/dashboard.html", context)


def dashboard_figures(top: int = 10) -> dict:
    """Storage, statuses, moderation, queue and recent failures, for the
    dashboard. Redis being down shows as such instead of an error page."""
    photo_bytes = Photo.objects.aggregate(total=Sum("byte_size"))["total"] or 0
    artwork_bytes = (
        Artwork.objects.aggregate(total=Sum(F("result_bytes") + F("thumbnail_bytes")))[
            "total"
        ]
        or 0
    )
    photos_of = (
        Photo.objects.filter(owner=OuterRef("pk"))
        .values("owner")
        .annotate(total=Sum("byte_size"))
        .values("total")
    )
    artworks_of = (
        Artwork.objects.filter(owner=OuterRef("pk"))
        .values("owner")
        .annotate(total=Sum(F("result_bytes") + F("thumbnail_bytes")))
        .values("total")
    )
    top_users = list(
        User.objects.annotate(
            photo_bytes=Coalesce(Subquery(photos_of), Value(0)),
            artwork_bytes=Coalesce(Subquery(artworks_of), Value(0)),
        )
        .annotate(stored=F("photo_bytes") + F("artwork_bytes"))
        .filter(stored__gt=0)
        .order_by("-stored")[:top]
    )
    for user in top_users:
        user.quota = quotas.usage_for(user)
    by_status = dict(
        Artwork.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    statuses = [
        (value, label, by_status.get(value, 0))
        for value, label in Artwork.Status.choices
    ]
    by_moderation = dict(
        Artwork.objects.values_list("moderation").annotate(n=Count("pk")).order_by()
    )
    moderation = [
        (value, label, by_moderation.get(value, 0))
        for value, label in Artwork.Moderation.choices
    ]
    since = timezone.now() - timedelta(days=1)
    failed_recent = Artwork.objects.filter(
        status=Artwork.Status.FAILED, finished_at__gte=since
    )
    failure_reasons = list(
        failed_recent.values("error").annotate(n=Count("pk")).order_by("-n")[:10]
    )
    return {
        "storage": {
            "originals": photo_bytes,
            "artworks": artwork_bytes,
            "total": photo_bytes + artwork_bytes,
            "photos": Photo.objects.count(),
        },
        "top_users": top_users,
        "statuses": statuses,
        "moderation": moderation,
        "failed_count": failed_recent.count(),
        "failure_reasons": failure_reasons,
        "failed_recent": failed_recent.select_related("owner").order_by("-finished_at")[
            :20
        ],
        "queue": queue_figures(),
        "retention": {
            "days": retention.configured_ages()[0],
            "failed_days": retention.configured_ages()[1],
        },
    }


def queue_figures() -> dict:
    from django_rq.settings import get_queues_list

    queue = services.get_queue()
    names = [config["name"] for config in get_queues_list()]
    index = names.index(queue.name) if queue.name in names else 0
    try:
        links = {
            "home": reverse("django_rq:home"),
            "jobs": reverse("django_rq:jobs", args=[index]),
            "workers": reverse("django_rq:workers", args=[index]),
            "failed": reverse("django_rq:failed_jobs", args=[index]),
        }
    except NoReverseMatch:  # django-rq's pages are not mounted
        links = {}
    try:
        return {
            "ok": True,
            "name": queue.name,
            "queued": queue.count,
            "started": StartedJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
            "workers": Worker.count(queue=queue),
            "links": links,
        }
    except RedisError as exc:
        return {"ok": False, "name": queue.name, "error": str(exc), "links": links}


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
        "byte_size",
        "content_hash",
        "created",
    )
    inlines = [ArtworkInline]

    def get_queryset(self, request):
        results = (
            Artwork.objects.filter(photo=OuterRef("pk"))
            .values("photo")
            .annotate(total=Sum(F("result_bytes") + F("thumbnail_bytes")))
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
        photo = Photo.objects.filter(pk=pk).first()
        if photo is None:
            raise Http404("No such photo.")
        return _stream(photo.original)

    @admin.display(description=_("thumbnail"))
    def preview(self, obj: Photo) -> str:
        # An artwork's thumbnail: the original may be a 40 MB HEIC.
        pk = getattr(obj, "thumb_artwork", None)
        url = (
            reverse("admin:gallery_artwork_file", args=[pk, "thumbnail"])
            if pk
            else None
        )
        return _image(url, size=64, alt=str(obj))

    @admin.display(description=_("original"))
    def preview_large(self, obj: Photo) -> str:
        url = reverse("admin:gallery_photo_original", args=[obj.pk])
        return format_html(
            '{}<br><a href="{}" target="_blank" rel="noopener">{}</a>',
            _image(url, size=320, alt=str(obj)),
            url,
            _("open the original"),
        )

    @admin.display(description=_("size"))
    def dimensions(self, obj: Photo) -> str:
        return f"{obj.width} × {obj.height}"

    @admin.display(description=_("original size"), ordering="byte_size")
    def original_size(self, obj: Photo) -> str:
        return _bytes(obj.byte_size)

    @admin.display(description=_("size on disk"), ordering="stored_bytes")
    def size_on_disk(self, obj: Photo) -> str:
        return _bytes(obj.stored_bytes)

    @admin.display(description=_("artworks"), ordering="artwork_total")
    def artwork_count(self, obj: Photo) -> int:
        return obj.artwork_total


# Quotas ---------------------------------------------------------------------------


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "max_photos", "max_bytes", "usage")
    search_fields = ("user__username", "display_name")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)

    @admin.display(description=_("usage"))
    def usage(self, obj: Profile) -> str:
        usage = quotas.usage_for(obj.user)
        return _usage_text(usage)


def _usage_text(usage: quotas.QuotaUsage) -> str:
    photos = (
        f"{usage.photos_used} / {usage.max_photos}"
        if usage.has_photo_limit
        else f"{usage.photos_used} / ∞"
    )
    size = (
        f"{_bytes(usage.bytes_used)} / {_bytes(usage.max_bytes)}"
        if usage.has_byte_limit
        else f"{_bytes(usage.bytes_used)} / ∞"
    )
    return f"{photos} · {size}"


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ("display_name", "max_photos", "max_bytes")
    verbose_name_plural = _("studio profile and quota overrides")


class StudioUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, ProfileInline]
    list_display = (*UserAdmin.list_display, "storage_used")

    @admin.display(description=_("storage used"))
    def storage_used(self, obj) -> str:
        return _usage_text(quotas.usage_for(obj))


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, StudioUserAdmin)
