"""Per-tenant policies: the self-service password reset policy and the password rules."""

from __future__ import annotations

from django.db import models

from sspr.directory.models import Group, Tenant

# Entra's defaults for a new tenant (PRODUCT.md section 8).
DEFAULT_METHODS = ["email", "sms", "totp"]


def default_methods() -> list[str]:
    return list(DEFAULT_METHODS)


class SsprPolicy(models.Model):
    class Scope(models.TextChoices):
        NONE = "none"
        SELECTED = "selected"
        ALL = "all"

    class Protection(models.TextChoices):
        ENFORCE = "enforce"
        AUDIT = "audit"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="sspr_policy")
    enabled_for = models.CharField(max_length=8, choices=Scope.choices, default=Scope.NONE)
    enabled_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    methods_required = models.PositiveSmallIntegerField(default=1)
    methods_enabled = models.JSONField(default=default_methods)
    questions_to_register = models.PositiveSmallIntegerField(default=3)
    questions_to_reset = models.PositiveSmallIntegerField(default=3)
    # Up to 20 of the tenant's own questions, at most 200 characters each.
    custom_questions = models.JSONField(default=list)
    captcha_enabled = models.BooleanField(default=True)
    registration_required = models.BooleanField(default=True)
    reconfirm_days = models.PositiveSmallIntegerField(default=180)
    notify_users = models.BooleanField(default=True)
    notify_admins = models.BooleanField(default=False)
    helpdesk_url = models.CharField(max_length=512, blank=True)
    writeback_enabled = models.BooleanField(default=False)
    unlock_enabled = models.BooleanField(default=False)
    banned_passwords = models.JSONField(default=list)
    password_protection = models.CharField(
        max_length=8, choices=Protection.choices, default=Protection.ENFORCE
    )
    # Text messages a tenant may send a day: a ceiling against SMS pumping fraud.
    sms_daily_limit = models.PositiveIntegerField(default=1000)

    def __str__(self) -> str:
        return f"SSPR policy of {self.tenant}"


class PasswordPolicy(models.Model):
    """The cloud password rules of a tenant. A preset fills them in; each stays adjustable."""

    class Preset(models.TextChoices):
        ENTRA = "entra", "Entra-compatible"
        NIST = "nist", "NIST SP 800-63B-4"
        CUSTOM = "custom", "Custom"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="password_policy")
    preset = models.CharField(max_length=8, choices=Preset.choices, default=Preset.ENTRA)
    min_length = models.PositiveSmallIntegerField(default=8)
    max_length = models.PositiveSmallIntegerField(default=256)
    min_character_classes = models.PositiveSmallIntegerField(default=3)
    forbid_account_name = models.BooleanField(default=True)
    check_banned = models.BooleanField(default=True)
    check_breached = models.BooleanField(default=True)
    # The online range lookup (k-anonymity) on top of the shipped filter.
    breached_online = models.BooleanField(default=False)
    # When the online lookup cannot answer: refuse the password (True) or rely on the filter.
    breached_fail_closed = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Password policy of {self.tenant}"
