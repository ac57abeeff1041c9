"""Notifications to users about their account. Sending never blocks the change it reports."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone

from sspr.directory.models import User

log = logging.getLogger(__name__)


def _send(to: str, subject: str, template: str, context: dict[str, object]) -> bool:
    body = render_to_string(template, context)
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()
    except Exception as error:  # noqa: BLE001 -- any transport failure is logged, not raised
        log.warning("notification_failed template=%s error=%s", template, type(error).__name__)
        return False
    return True


def notify_password_changed(user: User) -> bool:
    tenant = user.tenant
    return _send(
        user.notification_address,
        f"Your {tenant.name} password was changed",
        "messaging/password_changed.txt",
        {
            "user": user,
            "tenant": tenant,
            "when": timezone.now(),
            "reset_url": f"{settings.BASE_URL}/t/{tenant.slug}/reset",
        },
    )


def notify_password_reset(user: User, address: str) -> bool:
    tenant = user.tenant
    return _send(
        address,
        f"Your {tenant.name} password was reset",
        "messaging/password_reset.txt",
        {
            "user": user,
            "tenant": tenant,
            "when": timezone.now(),
            "reset_url": f"{settings.BASE_URL}/t/{tenant.slug}/reset",
        },
    )


def notify_admins_of_reset(user: User, address: str) -> bool:
    tenant = user.tenant
    return _send(
        address,
        f"An administrator of {tenant.name} reset their password",
        "messaging/admin_reset_notice.txt",
        {"user": user, "tenant": tenant, "when": timezone.now()},
    )


def notify_admin_reset(user: User) -> bool:
    tenant = user.tenant
    return _send(
        user.notification_address,
        f"An administrator reset your {tenant.name} password",
        "messaging/admin_reset.txt",
        {
            "user": user,
            "tenant": tenant,
            "when": timezone.now(),
            "sign_in_url": f"{settings.BASE_URL}/t/{tenant.slug}/sign-in",
        },
    )


class CodeNotSent(Exception):
    """The code could not be handed to the mail server; the caller tells the user."""


def send_code_email(to: str, code: str, purpose: str) -> None:
    subject = "Your verification code" if purpose == "reset" else "Confirm your email address"
    body = render_to_string("messaging/code.txt", {"code": code, "purpose": purpose})
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()
    except Exception as error:  # noqa: BLE001 -- transport errors of any kind
        log.warning("code_email_failed error=%s", type(error).__name__)
        raise CodeNotSent() from None
