"""What a user's admin page shows of their Temporary Access Passes: the list, never a passcode,
and the form that issues one (sent to `admin_passes`)."""

from __future__ import annotations

from typing import Any

from django import forms

from sspr.access import temporary_pass
from sspr.access.models import TemporaryAccessPass
from sspr.directory.models import User

STATE_LABELS = {
    "active": "Active",
    "not_yet_valid": "Not valid yet",
    "used_up": "Used up",
    "expired": "Expired",
    "revoked": "Revoked",
}


class PassForm(forms.Form):
    lifetime = forms.CharField(
        label="Lifetime",
        max_length=16,
        initial="1h",
        widget=forms.TextInput(attrs={"aria-describedby": "lifetime-help", "size": 8}),
    )
    max_uses = forms.IntegerField(
        label="Number of uses",
        initial=1,
        widget=forms.NumberInput(attrs={"aria-describedby": "uses-help", "min": 1, "max": 100}),
    )
    # The user's newest pass when the form was shown: sending the same form twice (a reload of
    # the answer) issues nothing, since the first sending made a newer one.
    after = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


def newest_pass(target: User) -> int:
    newest = TemporaryAccessPass.objects.filter(user=target).order_by("-pk").first()
    return newest.pk if newest else 0


def refusal(actor: User, target: User) -> str:
    if actor.pk == target.pk:
        return "Nobody can issue a Temporary Access Pass for themselves."
    return "Your role does not allow you to issue Temporary Access Passes for this user."


def pass_panel(actor: User, target: User, form: PassForm | None = None) -> dict[str, Any]:
    """What the user's page shows of their passes: the list (never a passcode) and the form."""
    if not temporary_pass.may_issue(actor, target):
        return {"pass_refusal": refusal(actor, target), "passes": []}
    rows = [
        {
            "pass": p,
            "state": p.state_at(),
            "state_label": STATE_LABELS.get(p.state_at(), p.state_at()),
        }
        for p in temporary_pass.list_passes(actor, target)
    ]
    return {
        "pass_refusal": "",
        "passes": rows,
        "pass_form": form or PassForm(initial={"after": newest_pass(target)}),
    }
