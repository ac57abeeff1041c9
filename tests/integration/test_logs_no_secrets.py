"""No password, token or password hash reaches the logs or the audit trail.

Every logger is turned up to DEBUG while a user signs in (once wrongly), changes the password
(once with a wrong current password, once with a new password the rules refuse, then for real)
and signs out. The database is transactional so that work done on commit (the notification)
runs, and logs, as in production.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from tests.conftest import PASSWORD, Api
from tests.secrets_scan import assert_not_logged

NEW_PASSWORD = "Velvet-Orbit-9317"
WRONG_PASSWORD = "Wrong-Guess-5521"
REFUSED_PASSWORD = "zq7x"  # too short


def audit_text(event: AuditEvent) -> str:
    parts = [str(getattr(event, f.attname)) for f in AuditEvent._meta.concrete_fields]
    parts.append(json.dumps(event.details))
    return "\n".join(parts)


def test_passwords_tokens_and_hashes_stay_out_of_logs_and_audit(
    transactional_db: Any, api: Api, alice: User, every_log_record: pytest.LogCaptureFixture
) -> None:
    hash_before = alice.password_hash

    assert api.sign_in("contoso", alice.upn, WRONG_PASSWORD).status_code == 401
    signed_in = api.sign_in("contoso", alice.upn, PASSWORD)
    assert signed_in.status_code == 201
    token = api.token
    assert token

    wrong_current = api.call(
        "POST", "/me/password", {"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert wrong_current.status_code == 422
    refused = api.call(
        "POST", "/me/password", {"current_password": PASSWORD, "new_password": REFUSED_PASSWORD}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "password_rejected"
    changed = api.call(
        "POST", "/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.content
    assert api.call("DELETE", "/me/session").status_code == 204
    assert api.call("GET", "/me").status_code == 401

    alice.refresh_from_db()
    hash_after = alice.password_hash
    assert hash_after and hash_after != hash_before

    secrets = {
        "old password": PASSWORD,
        "new password": NEW_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "refused password": REFUSED_PASSWORD,
        "bearer token": token,
        "password hash before": hash_before,
        "password hash after": hash_after,
        # The digest alone, in case a hash is logged cut or re-encoded.
        "hash digest before": hash_before.rsplit("$", 1)[-1],
        "hash digest after": hash_after.rsplit("$", 1)[-1],
    }

    records = every_log_record.records
    # The capture works: at least the refused requests were logged.
    assert records
    assert_not_logged(records, secrets)

    events = list(AuditEvent.objects.filter(tenant=alice.tenant))
    activities = {e.activity for e in events}
    assert {"Sign-in", "Change password (self-service)", "Sign-out"} <= activities
    for event in events:
        text = audit_text(event)
        for name, secret in secrets.items():
            assert secret not in text, f"{name} in audit event {event.activity}"
