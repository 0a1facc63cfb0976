"""Forms of the account page: profile, tokens, deleting the account, and
the rate-limited password reset request."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gallery.models import ApiToken
from gallery.web.forms import FirstErrorMixin


class ProfileForm(FirstErrorMixin, forms.Form):
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=80,
        required=False,
        help_text=_("Shown with your public artworks and shared links."),
    )
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("Only used to reset a forgotten password."),
    )


class TokenForm(FirstErrorMixin, forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=80,
        help_text=_("What the token is for, e.g. “backup script”."),
    )
    scope = forms.ChoiceField(
        label=_("Scope"),
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        widget=forms.RadioSelect,
    )


class DeleteAccountForm(FirstErrorMixin, forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("The password is not correct."))
        return password
