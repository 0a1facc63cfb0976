from __future__ import annotations

from django.urls import path

from gallery.web import api, media, pages

app_name = "gallery"

urlpatterns = [
    path("", pages.home, name="home"),
    path("explore/", pages.explore, name="explore"),
    path("gallery/", pages.my_gallery, name="my_gallery"),
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
    path("styles/<slug:slug>/sample.jpg", media.style_sample, name="style_sample"),
    path(
        "media/artworks/<int:pk>/<str:kind>/", media.artwork_media, name="artwork_media"
    ),
    path("api/preview/", api.api_preview, name="api_preview"),
    path("api/styles/", api.api_styles, name="api_styles"),
    path("api/artworks/", api.api_artworks, name="api_artworks"),
    path("api/artworks/<int:pk>/", api.api_artwork, name="api_artwork"),
]
