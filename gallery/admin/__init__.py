"""The moderator's panel: artworks, reports, photos, quotas, and a dashboard.

Django's admin autodiscovery imports this package; each module registers its
ModelAdmins. The dashboard's queries live in ``dashboard``.
"""

from __future__ import annotations

from gallery.admin import artworks, log, photos, users

__all__ = ["artworks", "log", "photos", "users"]
