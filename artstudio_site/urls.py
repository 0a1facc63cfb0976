from __future__ import annotations

import django_rq.urls
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import user_passes_test
from django.urls import URLPattern, include, path

from gallery.web import account, health, pages


def _superusers_only(patterns: list[URLPattern]) -> list[URLPattern]:
    """django-rq's pages let any staff user empty queues, requeue or delete
    jobs and read job arguments: they are for superusers only (moderators
    are staff too). Others are sent to the admin login."""
    check = user_passes_test(
        lambda user: user.is_active and user.is_superuser, login_url="admin:login"
    )
    return [
        URLPattern(p.pattern, check(p.callback), p.default_args, p.name)
        for p in patterns
    ]


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/signup/", pages.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's own password reset views (templates in templates/registration/);
    # asking for a reset is rate-limited and answers the same for any address.
    path(
        "accounts/password_reset/",
        account.password_reset,
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "admin/rq/",
        include(
            (_superusers_only(django_rq.urls.urlpatterns), "django_rq"),
            namespace="django_rq",
        ),
    ),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("gallery.web.urls")),
]
