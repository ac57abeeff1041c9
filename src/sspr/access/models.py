"""Named locations, conditional access policies, Temporary Access Passes and the proofs a
signed-in session has given (a registered method, or a pass)."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from sspr.directory.models import Credential, Group, Tenant, User


class Action(models.TextChoices):
    REGISTER_SECURITY_INFO = "register_security_info", "Register security information"
    ADMIN_SIGN_IN = "admin_sign_in", "Sign in to the admin portal"


class NamedLocation(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    # Normalised CIDR networks ("192.0.2.0/24", "2001:db8::/32").
    ranges = models.JSONField(default=list)
    trusted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="location_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class AccessPolicy(models.Model):
    class State(models.TextChoices):
        ON = "on", "On"
        OFF = "off", "Off"
        REPORT_ONLY = "report_only", "Report-only"

    class Where(models.TextChoices):
        ANY = "any", "Any location"
        TRUSTED = "trusted", "Trusted locations"
        UNTRUSTED = "untrusted", "All but trusted locations"
        SELECTED = "selected", "Selected locations"

    class Decision(models.TextChoices):
        ALLOW = "allow", "Allow"
        REQUIRE_METHOD = "require_method", "Require an already-registered method"
        BLOCK = "block", "Block"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=32, choices=Action.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.REPORT_ONLY)
    include_all = models.BooleanField(default=False)
    include_groups = models.ManyToManyField(Group, related_name="+", blank=True)
    include_roles = models.JSONField(default=list)
    include_users = models.ManyToManyField(User, related_name="+", blank=True)
    exclude_groups = models.ManyToManyField(Group, related_name="+", blank=True)
    exclude_roles = models.JSONField(default=list)
    exclude_users = models.ManyToManyField(User, related_name="+", blank=True)
    where = models.CharField(max_length=16, choices=Where.choices, default=Where.ANY)
    locations = models.ManyToManyField(NamedLocation, related_name="+", blank=True)
    decision = models.CharField(
        max_length=16, choices=Decision.choices, default=Decision.REQUIRE_METHOD
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="access_policy_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class TemporaryAccessPass(models.Model):
    """A time-limited passcode an administrator gives a user to register methods with.

    Only a keyed hash of the passcode is kept; it is shown once, when issued.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    pass_hash = models.CharField(max_length=64)
    created_by = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=256, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"], name="access_pass_user")]

    def __str__(self) -> str:
        return f"temporary access pass of {self.user}"

    def state_at(self, now: datetime | None = None) -> str:
        """One of "active", "not_yet_valid", "used_up", "expired", "revoked"."""
        moment = timezone.now() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.uses >= self.max_uses:
            return "used_up"
        if self.expires_at <= moment:
            return "expired"
        if self.starts_at > moment:
            return "not_yet_valid"
        return "active"


class PassSession(models.Model):
    """A session signed in with a Temporary Access Pass: it may only register methods."""

    credential = models.OneToOneField(Credential, on_delete=models.CASCADE, related_name="+")
    access_pass = models.ForeignKey(TemporaryAccessPass, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"pass session of {self.credential.user}"


class StepUp(models.Model):
    """A session's proof of an already-registered method (or a pass), for a short while."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="+")
    # The method proven ("email", "totp", ...) or "temporary_access_pass".
    via = models.CharField(max_length=32)
    proven_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"step-up by {self.via}"
