from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


def _username() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("User name"),
        max_length=256,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autofocus": True,
                "placeholder": "someone@example.com",
            }
        ),
    )


def _password(label: str | _StrPromise, autocomplete: str, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete, **attrs}),
    )


class SignInForm(forms.Form):
    username = _username()
    password = _password(gettext_lazy("Password"), "current-password")


class ResetStartForm(forms.Form):
    username = _username()


class NewPasswordForm(forms.Form):
    """A new password typed twice."""

    new_password = _password(
        gettext_lazy("New password"), "new-password", **{"aria-describedby": "password-rules"}
    )
    confirm_password = _password(gettext_lazy("Confirm new password"), "new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", _("The two new passwords do not match."))
        return data

    def __init__(
        self, *args: Any, feedback_url: str = "", username: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if feedback_url:
            attrs = self.fields["new_password"].widget.attrs
            attrs.update({"data-password-feedback": feedback_url, "data-username": username})


class ChangePasswordForm(NewPasswordForm):
    current_password = _password(
        gettext_lazy("Current password"), "current-password", autofocus=True
    )
    field_order = ["current_password", "new_password", "confirm_password"]
