"""A self-service reset as a stored row: its named state, its gates, its expiry."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from sspr.directory.models import Tenant, User


def new_flow_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


class ResetFlow(models.Model):
    class State(models.TextChoices):
        AWAITING_VERIFICATION = "awaiting_verification"
        VERIFIED = "verified"
        COMPLETING = "completing"  # the directory is being written: no second completion
        COMPLETED = "completed"

    id = models.CharField(primary_key=True, max_length=32, default=new_flow_id)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    # Empty for a decoy: a name nobody holds, or someone who cannot reset here.
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, related_name="+")
    username = models.CharField(max_length=256)
    decoy = models.BooleanField(default=False)
    # Why a decoy cannot succeed (eligibility reason codes); for the audit trail only.
    reasons = models.JSONField(default=list)
    state = models.CharField(
        max_length=24, choices=State.choices, default=State.AWAITING_VERIFICATION
    )
    gates_required = models.PositiveSmallIntegerField()
    gates_passed = models.JSONField(default=list)
    # [{"method", "hint"}], fixed at the start.
    methods = models.JSONField(default=list)
    # Per method: what the method must remember between challenge and answer.
    scratch = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reset flow ({self.state})"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def offers(self, method: str) -> bool:
        return any(m["method"] == method for m in self.methods)

    def hint_for(self, method: str) -> str:
        return next((m["hint"] for m in self.methods if m["method"] == method), "")


class CallerVerification(models.Model):
    """The helpdesk checking a caller: a code sent to a method the user registered, read back.

    Bound to the administrator who asked for it: another administrator cannot finish it, and
    it vouches for the caller only to the one who is on the phone.
    """

    class State(models.TextChoices):
        AWAITING_CODE = "awaiting_code"
        VERIFIED = "verified"
        FAILED = "failed"  # too many wrong codes: a new one must be sent

    id = models.CharField(primary_key=True, max_length=32, default=new_flow_id)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=16)
    hint = models.CharField(max_length=320)
    state = models.CharField(max_length=16, choices=State.choices, default=State.AWAITING_CODE)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"caller verification ({self.state})"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()
