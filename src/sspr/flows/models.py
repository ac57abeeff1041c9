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
