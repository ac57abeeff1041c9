"""Notifications to users about their account. Sending never blocks the change it reports.

Messages are written in the active language: that of the request whose action they report.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

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
        _("Your %(tenant)s password was changed") % {"tenant": tenant.name},
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
        _("Your %(tenant)s password was reset") % {"tenant": tenant.name},
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
        _("An administrator of %(tenant)s reset their password") % {"tenant": tenant.name},
        "messaging/admin_reset_notice.txt",
        {"user": user, "tenant": tenant, "when": timezone.now()},
    )


def notify_admin_reset(user: User) -> bool:
    tenant = user.tenant
    return _send(
        user.notification_address,
        _("An administrator reset your %(tenant)s password") % {"tenant": tenant.name},
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


_CODE_SUBJECTS = {
    "reset": gettext_noop("Your verification code"),
    "caller": gettext_noop("The code your helpdesk asked for"),
    "security-info": gettext_noop("Your verification code"),
}


def send_code_email(to: str, code: str, purpose: str) -> None:
    subject = _(_CODE_SUBJECTS.get(purpose, gettext_noop("Confirm your email address")))
    template = "messaging/caller_code.txt" if purpose == "caller" else "messaging/code.txt"
    body = render_to_string(template, {"code": code, "purpose": purpose})
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()
    except Exception as error:  # noqa: BLE001 -- transport errors of any kind
        log.warning("code_email_failed error=%s", type(error).__name__)
        raise CodeNotSent() from None
