"""Agents, their enrolment tokens, the command queue and the state of the directory sync."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils import timezone

from sspr.directory.models import Group, Tenant, User


def new_agent_id() -> str:
    return secrets.token_hex(16)  # 128 random bits


def new_command_id() -> str:
    return uuid.uuid4().hex


class Agent(models.Model):
    """An enrolled `sspr-agent`: its public keys and what it last told us about itself."""

    id = models.CharField(primary_key=True, max_length=32, default=new_agent_id)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=128)
    directory_kind = models.CharField(max_length=16)  # "ad" or "openldap"
    agent_version = models.CharField(max_length=32, blank=True)
    capabilities = models.JSONField(default=list)
    # Base64 of the raw 32-byte keys: Ed25519 (verifies its requests), X25519 (seals passwords).
    sign_public_key = models.CharField(max_length=64)
    box_public_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)  # any signed request
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.JSONField(default=dict)  # the last Heartbeat message
    last_error = models.CharField(max_length=1024, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"agent {self.name} ({self.tenant_id})"


class EnrollmentToken(models.Model):
    """A one-time enrolment token: only its SHA-256 is kept; valid one hour, usable once."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, blank=True)

    def __str__(self) -> str:
        return f"enrolment token of {self.tenant_id}"


class ServiceKey(models.Model):
    """The service's Ed25519 signing key (one row), its private half sealed at rest."""

    sealed_private_key = models.TextField()
    public_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return "service signing key"


class Command(models.Model):
    """One command for the tenant's agents, from enqueue to result.

    `sealed` holds the secrets sealed to each agent that may carry the command out,
    `{agent_id: {"new_password": "<b64 sealed box>", ...}}`, and is emptied when the command
    ends: no password outlives its command, even sealed.
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        CLAIMED = "claimed"
        STARTED = "started"
        DONE = "done"  # the agent answered `ok`
        FAILED = "failed"  # the agent answered anything else, or started and never answered
        EXPIRED = "expired"  # never started in time

    ENDED = (State.DONE, State.FAILED, State.EXPIRED)

    id = models.CharField(primary_key=True, max_length=32, default=new_command_id)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    idempotency_key = models.CharField(max_length=64, unique=True)
    target = models.JSONField(default=dict)
    sealed = models.JSONField(default=dict)
    options = models.JSONField(default=dict)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    claimed_by = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    result = models.JSONField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "state", "issued_at"])]

    def __str__(self) -> str:
        return f"{self.kind} command ({self.state})"


class SyncState(models.Model):
    """Where the tenant's directory sync stands: its cursor, the sync asked for, the stats."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    cursor = models.CharField(max_length=256, blank=True)  # of the last batch applied
    sync_id = models.CharField(max_length=64, blank=True)  # the sync the cursor belongs to
    mode = models.CharField(max_length=8, blank=True)  # "full" or "delta": that sync's mode
    full_completed = models.BooleanField(default=False)  # a full sync has ever ended
    requested = models.CharField(max_length=8, default="none")  # "none", "delta", "full"
    requested_at = models.DateTimeField(null=True, blank=True)
    # {"sync_id", "started_at", "finished_at", "batches", "users", "groups", "created",
    #  "updated", "deleted", "unchanged", "errors", "error_list", "rate"}
    last_full = models.JSONField(default=dict)
    last_delta = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sync state of {self.tenant_id}"


class SyncedUser(models.Model):
    """What the sync keeps about a synced user beyond the directory row itself."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="sync_state"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    anchor = models.CharField(max_length=64)
    last_seen_sync = models.CharField(max_length=64, blank=True)
    locked_out = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "anchor"], name="synced_user_anchor_unique")
        ]

    def __str__(self) -> str:
        return f"sync state of {self.anchor}"


class SyncedGroup(models.Model):
    """What the sync keeps about a synced group: its anchor and its members' anchors."""

    group = models.OneToOneField(
        Group, on_delete=models.CASCADE, primary_key=True, related_name="sync_state"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    anchor = models.CharField(max_length=64)
    dn = models.CharField(max_length=1024, blank=True)
    last_seen_sync = models.CharField(max_length=64, blank=True)
    # The members as the directory names them; those not (yet) synced wait in `unresolved`.
    member_anchors = models.JSONField(default=list)
    unresolved = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "anchor"], name="synced_group_anchor_unique")
        ]

    def __str__(self) -> str:
        return f"sync state of {self.anchor}"
