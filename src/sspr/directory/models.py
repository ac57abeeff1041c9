"""Tenants, users, groups and role assignments: the cloud directory."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from sspr.directory.plans import Plan
from sspr.directory.roles import Role


class Tenant(models.Model):
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=32, choices=[(p.value, p.label) for p in Plan])
    domains = models.JSONField(default=list, help_text="Verified domains, lower-case.")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug


class Source(models.TextChoices):
    CLOUD = "cloud", "Cloud"
    SYNCED = "synced", "Synced from on-premises"


class User(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users")
    # Stored normalised (see identifiers.normalise_upn): lookups compare exact strings, so no
    # Unicode case folding can make two accounts meet.
    upn = models.CharField(max_length=113)
    display_name = models.CharField(max_length=256, blank=True)
    given_name = models.CharField(max_length=64, blank=True)
    family_name = models.CharField(max_length=64, blank=True)
    mail = models.EmailField(max_length=254, blank=True)
    mobile_phone = models.CharField(max_length=32, blank=True)
    office_phone = models.CharField(max_length=32, blank=True)
    enabled = models.BooleanField(default=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.CLOUD)
    on_prem_anchor = models.CharField(max_length=64, blank=True)
    on_prem_dn = models.CharField(max_length=1024, blank=True)
    password_hash = models.CharField(max_length=256, blank=True)
    password_last_set = models.DateTimeField(null=True, blank=True)
    must_change_password = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "upn"], name="user_upn_unique_per_tenant")
        ]
        indexes = [
            # The directory sync finds synced users by their on-premises anchor, a page at a time.
            models.Index(fields=["tenant", "on_prem_anchor"], name="user_anchor"),
            # Insights count a tenant's enabled users from this index alone (sspr.insights.counts).
            models.Index(fields=["tenant"], condition=models.Q(enabled=True), name="user_enabled"),
        ]

    def __str__(self) -> str:
        return self.upn

    @property
    def roles(self) -> list[Role]:
        return [Role(a.role) for a in self.role_assignments.all()]

    @property
    def notification_address(self) -> str:
        # Entra notifies the primary email, else the UPN.
        return self.mail or self.upn


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=64, choices=[(r.value, r.label) for r in Role])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="role_assigned_once")]

    def __str__(self) -> str:
        return f"{self.user} {self.role}"


class Group(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=256)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.CLOUD)
    on_prem_anchor = models.CharField(max_length=64, blank=True)
    members = models.ManyToManyField(User, related_name="member_of", blank=True)
    # Nested groups: a member group's members count as members (the SSPR scope follows them).
    member_groups = models.ManyToManyField(
        "self", symmetrical=False, related_name="parent_groups", blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="group_name_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class Credential(models.Model):
    """A signed-in session: a browser session or an API bearer token. Only its hash is kept."""

    class Kind(models.TextChoices):
        BROWSER = "browser"
        API = "api"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} credential of {self.user}"


class Lockout(models.Model):
    """Smart-lockout state per tenant and sign-in name.

    Keyed by the name typed, not by the account, so that a name nobody holds locks exactly like
    a real one: the lock tells nothing about whether the account exists.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=256)
    failures = models.PositiveIntegerField(default=0)
    lockouts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    # Keyed fingerprints of the last bad passwords: the same wrong password twice counts once.
    recent_bad = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="lockout_key_unique")]

    def __str__(self) -> str:
        return f"lockout of {self.key}"
