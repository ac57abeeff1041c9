"""What a user registered, and the one-time codes sent to prove it or to pass a gate."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from sspr.directory.models import Tenant, User


class RegisteredMethod(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="methods")
    method = models.CharField(max_length=16)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    # The address or number a code goes to; empty for the app and questions.
    value = models.CharField(max_length=320, blank=True)
    # Sealed with the service key (crypto.seal): the authenticator app's shared secret.
    secret = models.TextField(blank=True)
    # Method-specific state: question/answer-hash pairs, the last TOTP step accepted.
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "method"],
                condition=Q(state="active"),
                name="one_active_registration_per_method",
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} of {self.user} ({self.state})"


class RegistrationStanding(models.Model):
    """The active methods of one enabled user, as a sorted comma-separated list.

    Kept by database triggers (migration 0002), never by Python: every way a user or a
    registration changes (the flows, a sync's bulk writes, a cascade, a bulk load) keeps it
    current in the same transaction. Only enabled users with at least one active method have a
    row: creating a user writes none.
    """

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    methods = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.methods}"


class RegistrationCount(models.Model):
    """How many enabled users of a tenant have each (non-empty) set of active methods, as
    changes: the triggers of migration 0002 append +1 and -1 rows, never update one (no row is
    contended); sspr.insights.counts sums them and folds them together."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    methods = models.CharField(max_length=255, blank=True)
    users = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.methods}: {self.users:+d}"


class OneTimeCode(models.Model):
    """A code bound to one purpose (a reset flow's gate or a registration) and one method."""

    binding = models.CharField(max_length=128, db_index=True)
    method = models.CharField(max_length=16)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.method}"
