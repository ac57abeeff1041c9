"""What the rollout emails and the poster say, in the language asked for.

Everything comes from the tenant's settings at the moment of rendering: its name, the addresses
users open (SSPR_BASE_URL + /t/{tenant}/register and /reset), the methods the policy offers and
how many a reset needs, whether registration is asked at sign-in, and the helpdesk contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import segno
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.directory.models import Tenant, User
from sspr.errors import InvalidValue
from sspr.methods.registry import METHOD_CLASSES
from sspr.policy.models import SsprPolicy
from sspr.policy.sspr_policy import METHODS, get_policy

ANNOUNCEMENT = "announcement"
REMINDER = "reminder"
KINDS = (ANNOUNCEMENT, REMINDER)
# What an administrator calls each kind on the page and in the audit trail.
KIND_LABELS = {ANNOUNCEMENT: "Announcement", REMINDER: "Reminder"}

_SUBJECTS = {
    ANNOUNCEMENT: gettext_noop("Reset your own %(organisation)s password: register now"),
    REMINDER: gettext_noop("Reminder: register for %(organisation)s password reset"),
}


def languages() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def check_language(language: str) -> str:
    if language not in languages():
        raise InvalidValue(
            f"Choose one of the languages {', '.join(languages())}.", field="language"
        )
    return language


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidValue(f"Choose the template {' or '.join(KINDS)}.", field="template")
    return kind


@dataclass(frozen=True)
class Links:
    register: str
    reset: str


def links(tenant: Tenant) -> Links:
    base = f"{settings.BASE_URL}/t/{tenant.slug}"
    return Links(register=f"{base}/register", reset=f"{base}/reset")


@dataclass(frozen=True)
class Helpdesk:
    text: str
    # Empty when the value is nothing a link may safely point to: the policy accepts any text
    # with an "@" in it, and "javascript:...@" must never become an href.
    href: str


def helpdesk_of(value: str) -> Helpdesk | None:
    text = value.strip()
    if not text:
        return None
    if text.lower().startswith(("https://", "http://")):
        return Helpdesk(text, text)
    if text.lower().startswith("mailto:"):
        return Helpdesk(text[len("mailto:") :], text)
    if "@" in text and ":" not in text and not any(c.isspace() for c in text):
        return Helpdesk(text, f"mailto:{text}")
    return Helpdesk(text, "")


@dataclass(frozen=True)
class Facts:
    """What every material tells users about their organisation's password reset."""

    organisation: str
    links: Links
    methods: tuple[str, ...]  # method names, in the order the policy lists every method
    methods_required: int
    registration_required: bool
    helpdesk: Helpdesk | None
    enabled_for: str

    @property
    def is_on(self) -> bool:
        return self.enabled_for != SsprPolicy.Scope.NONE


def facts(tenant: Tenant, policy: SsprPolicy | None = None) -> Facts:
    policy = policy or get_policy(tenant)
    enabled = set(policy.methods_enabled)
    return Facts(
        organisation=tenant.name,
        links=links(tenant),
        methods=tuple(m for m in METHODS if m in enabled and m in METHOD_CLASSES),
        methods_required=policy.methods_required,
        registration_required=policy.registration_required,
        helpdesk=helpdesk_of(policy.helpdesk_url),
        enabled_for=policy.enabled_for,
    )


def _context(info: Facts, user: User | None) -> dict[str, Any]:
    """Template context; call inside the language's translation.override."""
    return {
        "organisation": info.organisation,
        "links": info.links,
        "method_labels": [_(METHOD_CLASSES[m].label) for m in info.methods],
        "methods_required": info.methods_required,
        "registration_required": info.registration_required,
        "helpdesk": info.helpdesk,
        "site": settings.BASE_URL,
        "name": (user.display_name or user.given_name) if user is not None else "",
    }


@dataclass(frozen=True)
class Email:
    kind: str
    language: str
    subject: str
    text: str
    html: str

    def message(self, to: list[str] | None = None) -> EmailMultiAlternatives:
        """The email as it is sent: the text, and the HTML as its alternative."""
        message = EmailMultiAlternatives(
            self.subject, self.text, settings.DEFAULT_FROM_EMAIL, to or []
        )
        message.attach_alternative(self.html, "text/html")
        return message

    def eml(self) -> bytes:
        """An unsent draft for a mail program: it opens ready to address and send."""
        message = self.message()
        # Outlook opens a file with this header as a draft to send, not as a received message.
        message.extra_headers["X-Unsent"] = "1"
        return bytes(message.message().as_bytes())


def _one_line(text: str) -> str:
    # A line break in a header would end it; the tenant's name is free text.
    return " ".join(text.split())


def render_email(
    kind: str,
    tenant: Tenant,
    *,
    language: str = "en",
    user: User | None = None,
    info: Facts | None = None,
) -> Email:
    """The `kind` email for `tenant`, greeting `user` by name when given (previews greet no one).

    Pass `info` to render many messages from one reading of the policy.
    """
    check_kind(kind)
    check_language(language)
    info = info or facts(tenant)
    with translation.override(language):
        context = _context(info, user)
        subject = _one_line(_(_SUBJECTS[kind]) % {"organisation": info.organisation})
        text = render_to_string(f"messaging/rollout/{kind}.txt", context)
        html = render_to_string(
            f"messaging/rollout/{kind}.html",
            {**context, "subject": subject, "language": language},
        )
    return Email(kind, language, subject, text, html)


def qr_svg(url: str, title: str) -> SafeString:
    """A QR code of `url` as inline SVG: drawn with a stroked path, no style attribute, so the
    page's Content-Security-Policy (no inline style) lets it render."""
    svg = segno.make(url, error="m").svg_inline(
        scale=4, omitsize=True, title=title, svgclass="qr-code", lineclass="qr-line"
    )
    # segno escapes the title; the rest is drawn from the URL's bits, never from its text.
    return mark_safe(svg)  # noqa: S308


@dataclass(frozen=True)
class Poster:
    language: str
    facts: Facts
    register_qr: SafeString
    reset_qr: SafeString
    context: dict[str, Any]


def render_poster(tenant: Tenant, *, language: str = "en") -> Poster:
    check_language(language)
    info = facts(tenant)
    with translation.override(language):
        register_qr = qr_svg(info.links.register, _("QR code of the registration address"))
        reset_qr = qr_svg(info.links.reset, _("QR code of the password reset address"))
        context = {
            **_context(info, None),
            "language": language,
            "register_qr": register_qr,
            "reset_qr": reset_qr,
        }
    return Poster(language, info, register_qr, reset_qr, context)
