from __future__ import annotations

from typing import Any

from django import forms


def _username() -> forms.CharField:
    return forms.CharField(
        label="User name",
        max_length=256,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autofocus": True,
                "placeholder": "someone@example.com",
            }
        ),
    )


def _password(label: str, autocomplete: str, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete, **attrs}),
    )


class SignInForm(forms.Form):
    username = _username()
    password = _password("Password", "current-password")


class ResetStartForm(forms.Form):
    username = _username()


class NewPasswordForm(forms.Form):
    """A new password typed twice."""

    new_password = _password(
        "New password", "new-password", **{"aria-describedby": "password-rules"}
    )
    confirm_password = _password("Confirm new password", "new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", "The two new passwords do not match.")
        return data

    def __init__(
        self, *args: Any, feedback_url: str = "", username: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if feedback_url:
            attrs = self.fields["new_password"].widget.attrs
            attrs.update({"data-password-feedback": feedback_url, "data-username": username})


class ChangePasswordForm(NewPasswordForm):
    current_password = _password("Current password", "current-password", autofocus=True)
    field_order = ["current_password", "new_password", "confirm_password"]
