"""The admin's action log: every LogEntry, read-only.

Django shows an admin only their own recent actions; this list shows all of
them, so moderators also see what happened without them, such as members
deleting their own accounts (``gallery.accounts.account_delete``).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.utils.translation import gettext_lazy as _


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = ("action_time", "user", "content_type", "object_repr", "action")
    list_filter = ("action_flag", "content_type")
    search_fields = ("object_repr", "change_message", "user__username")
    date_hierarchy = "action_time"
    list_select_related = ("user", "content_type")

    @admin.display(description=_("action"))
    def action(self, entry: LogEntry) -> str:
        return entry.get_change_message() or str(entry)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
