from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = _("Gallery")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Files follow rows: deleting a Photo or Artwork, however it happens
        # (view, admin, cascade, cleanup_media), removes its unshared files.
        from gallery.storage import files

        files.connect_signals()
