from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = _("Gallery")
    default_auto_field = "django.db.models.BigAutoField"
