"""Users with their storage use, and the per-user quota overrides."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from gallery import limits
from gallery.admin.display import size_text
from gallery.models import Profile

User = get_user_model()

# Quotas ---------------------------------------------------------------------------


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "max_photos", "max_bytes", "usage")
    search_fields = ("user__username", "display_name")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)

    @admin.display(description=_("usage"))
    def usage(self, obj: Profile) -> str:
        usage = limits.usage_for(obj.user)
        return _usage_text(usage)


def _usage_text(usage: limits.QuotaUsage) -> str:
    photos = (
        f"{usage.photos_used} / {usage.max_photos}"
        if usage.has_photo_limit
        else f"{usage.photos_used} / ∞"
    )
    size = (
        f"{size_text(usage.bytes_used)} / {size_text(usage.max_bytes)}"
        if usage.has_byte_limit
        else f"{size_text(usage.bytes_used)} / ∞"
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
        return _usage_text(limits.usage_for(obj))


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, StudioUserAdmin)
