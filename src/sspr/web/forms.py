from __future__ import annotations

from typing import Any

from django import forms


class SignInForm(forms.Form):
    username = forms.CharField(
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
    password = forms.CharField(
        label="Password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ChangePasswordForm(forms.Form):
    current_password = forms.CharField(
        label="Current password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password = forms.CharField(
        label="New password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "new-password", "aria-describedby": "password-rules"}
        ),
    )
    confirm_password = forms.CharField(
        label="Confirm new password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", "The two new passwords do not match.")
        return data


class ResetStartForm(forms.Form):
    username = forms.CharField(
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


class NewPasswordForm(forms.Form):
    new_password = forms.CharField(
        label="New password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(
            attrs={
                "autocomplete": "new-password",
                "autofocus": True,
                "aria-describedby": "password-rules",
            }
        ),
    )
    confirm_password = forms.CharField(
        label="Confirm new password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", "The two new passwords do not match.")
        return data
