"""Entra's throttling numbers, and ours where Entra publishes none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window: timedelta
    block: timedelta


HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)

# Per user name (so that a name nobody holds is throttled exactly like a real one).
VERIFY_FAILURES = Limit("verify", 5, DAY, DAY)
PHONE_OR_APP_ATTEMPTS = Limit("phone", 5, HOUR, DAY)
EMAIL_CODES = Limit("email", 10, timedelta(minutes=10), DAY)
REGISTRATION_CODES = Limit("register", 10, HOUR, HOUR)
REGISTRATION_FAILURES = Limit("register-fail", 10, HOUR, HOUR)
# Codes the helpdesk sends to check a caller; apart from the user's own, so that it never
# blocks the user's self-service reset.
CALLER_CODES = Limit("caller-codes", 5, HOUR, HOUR)
# Per client address.
RESET_STARTS_PER_ADDRESS = Limit("ip-start", 30, HOUR, HOUR)
CODES_PER_ADDRESS = Limit("ip-codes", 30, HOUR, HOUR)
PASSWORD_CHECKS_PER_ADDRESS = Limit("ip-checks", 600, HOUR, timedelta(minutes=10))


def sms_per_tenant(daily_limit: int) -> Limit:
    return Limit("sms-day", daily_limit, DAY, timedelta(0))
