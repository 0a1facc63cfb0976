from __future__ import annotations

from django.urls import include, path

from gallery.web import account, media, pages, preset_pages, selection, shared
from gallery.web.api_schema import api_urlpatterns

app_name = "gallery"

urlpatterns = [
    path("", pages.home, name="home"),
    path("explore/", pages.explore, name="explore"),
    path("gallery/", pages.my_gallery, name="my_gallery"),
    path("gallery/download/", selection.gallery_download, name="gallery_download"),
    path("upload/", pages.upload, name="upload"),
    path("artworks/<int:pk>/", pages.artwork_detail, name="artwork_detail"),
    path(
        "artworks/<int:pk>/visibility/",
        pages.artwork_visibility,
        name="artwork_visibility",
    ),
    path("artworks/<int:pk>/delete/", pages.artwork_delete, name="artwork_delete"),
    path("artworks/<int:pk>/report/", pages.artwork_report, name="artwork_report"),
    path("artworks/<int:pk>/retry/", pages.artwork_retry, name="artwork_retry"),
    path("artworks/<int:pk>/share/", shared.artwork_share, name="artwork_share"),
    path("artworks/<int:pk>/unshare/", shared.artwork_unshare, name="artwork_unshare"),
    path(
        "artworks/<int:pk>/preset/",
        preset_pages.artwork_save_preset,
        name="artwork_save_preset",
    ),
    path("s/<str:token>/", shared.shared_artwork, name="shared_artwork"),
    path("presets/", preset_pages.preset_list, name="presets"),
    path("presets/<int:pk>/rename/", preset_pages.preset_rename, name="preset_rename"),
    path("presets/<int:pk>/delete/", preset_pages.preset_delete, name="preset_delete"),
    path("account/", account.account_page, name="account"),
    path("account/profile/", account.profile_save, name="account_profile"),
    path("account/password/", account.password_change, name="account_password"),
    path("account/tokens/", account.token_create, name="account_token_create"),
    path(
        "account/tokens/<int:pk>/revoke/",
        account.token_revoke,
        name="account_token_revoke",
    ),
    path("account/delete/", account.account_delete, name="account_delete"),
    path("account/deleted/", account.account_deleted, name="account_deleted"),
    path("styles/<slug:slug>/sample.jpg", media.style_sample, name="style_sample"),
    path(
        "media/artworks/<int:pk>/<str:kind>/", media.artwork_media, name="artwork_media"
    ),
    path("shared/media/<str:signed>/", media.shared_media, name="shared_media"),
    path("api/", include(api_urlpatterns())),
]
