from __future__ import annotations

from django.urls import path

from gallery import views

app_name = "gallery"

urlpatterns = [
    path("", views.home, name="home"),
    path("explore/", views.explore, name="explore"),
    path("gallery/", views.my_gallery, name="my_gallery"),
    path("upload/", views.upload, name="upload"),
    path("artworks/<int:pk>/", views.artwork_detail, name="artwork_detail"),
    path(
        "artworks/<int:pk>/visibility/",
        views.artwork_visibility,
        name="artwork_visibility",
    ),
    path("artworks/<int:pk>/delete/", views.artwork_delete, name="artwork_delete"),
    path("artworks/<int:pk>/report/", views.artwork_report, name="artwork_report"),
    path("artworks/<int:pk>/retry/", views.artwork_retry, name="artwork_retry"),
    path("styles/<slug:slug>/sample.jpg", views.style_sample, name="style_sample"),
    path("api/preview/", views.api_preview, name="api_preview"),
    path(
        "media/artworks/<int:pk>/<str:kind>/", views.artwork_media, name="artwork_media"
    ),
    path("api/styles/", views.api_styles, name="api_styles"),
    path("api/artworks/", views.api_artworks, name="api_artworks"),
    path("api/artworks/<int:pk>/", views.api_artwork, name="api_artwork"),
]
