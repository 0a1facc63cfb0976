"""The account page: display name and email, password, personal access
tokens, the export of everything, and deleting the account; and the
rate-limited "forgot password" request (Django's own view behind it)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery import accounts, limits
from gallery.models import ApiToken, Profile
from gallery.web.account_forms import DeleteAccountForm, ProfileForm, TokenForm
from gallery.web.refusals import refused

#: Password reset requests per hour and email address (a cap on the mails
#: one person can make the studio send to someone).
RESET_MAILS_PER_HOUR = 3


def _render(request: HttpRequest, status: int = 200, **forms) -> HttpResponse:
    user = request.user
    profile = Profile.objects.filter(user=user).first()
    context = {
        "profile_form": ProfileForm(
            initial={
                "display_name": profile.display_name if profile else "",
                "email": user.email,
            }
        ),
        "password_form": PasswordChangeForm(user),
        "token_form": TokenForm(),
        "delete_form": DeleteAccountForm(user),
        "tokens": ApiToken.objects.filter(user=user),
        "new_token": None,
    }
    context.update(forms)
    response = render(request, "gallery/account.html", context, status=status)
    # The page may show a new token's secret: never keep it in a cache.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def account_page(request: HttpRequest) -> HttpResponse:
    return _render(request)


@login_required
@require_POST
def profile_save(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _render(request, 400, profile_form=form)
    accounts.profile_update(
        request.user,
        display_name=form.cleaned_data["display_name"],
        email=form.cleaned_data["email"],
    )
    messages.success(request, _("Your profile is saved."))
    return redirect("gallery:account")


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _render(request, 400, password_form=form)
    form.save()
    # Keep this session signed in; every other session of the user ends.
    update_session_auth_hash(request, form.user)
    messages.success(request, _("Your password is changed."))
    return redirect("gallery:account")


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _render(request, 400, token_form=form)
    try:
        token, secret = accounts.token_create(
            request.user, form.cleaned_data["name"], form.cleaned_data["scope"]
        )
    except accounts.TokenRefused as refusal:
        form.add_error(refusal.field, refusal.message)
        return _render(request, 400, token_form=form)
    # Shown on this answer only (not through a redirect and the session).
    return _render(request, new_token={"token": token, "secret": secret})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if not accounts.token_revoke(request.user, pk):
        raise Http404("No such token.")
    messages.success(request, _("The token is revoked."))
    return redirect("gallery:account")


@login_required
@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    retry_after = limits.hit("account-delete", request.user.pk, 5)
    if retry_after is not None:
        message = _("Too many attempts. Please wait %(seconds)d seconds.") % {
            "seconds": retry_after
        }
        return refused(request, message, status=429, retry_after=retry_after)
    form = DeleteAccountForm(request.user, request.POST)
    if not form.is_valid():
        return _render(request, 400, delete_form=form, delete_failed=True)
    summary = accounts.account_delete(request.user)
    logout(request)
    request.session["deleted_account"] = summary
    return redirect("gallery:account_deleted")


@require_GET
def account_deleted(request: HttpRequest) -> HttpResponse:
    summary = request.session.pop("deleted_account", None)
    if summary is None:
        return redirect("gallery:home")
    return render(request, "gallery/account_deleted.html", {"summary": summary})


_reset_request = auth_views.PasswordResetView.as_view()


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Django's PasswordResetView behind two rate limits: per client address
    and minute, and per email address and hour. The answer is the same
    whether an account has that address or not (Django's own behaviour), and
    a refusal (429) depends only on the requests, never on the accounts."""
    if request.method == "POST":
        email = request.POST.get("email", "").strip().lower()
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        retry_after = limits.hit(
            "password-reset", request.client_ip, settings.STUDIO_PASSWORD_RESET_RATE
        ) or limits.hit(
            "password-reset-email", digest, RESET_MAILS_PER_HOUR, window=3600
        )
        if retry_after is not None:
            message = _(
                "Too many password reset requests. Please wait %(seconds)d seconds."
            ) % {"seconds": retry_after}
            return refused(request, message, status=429, retry_after=retry_after)
    return _reset_request(request)
