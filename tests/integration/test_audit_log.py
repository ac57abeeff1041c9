"""The audit trail is append-only and carries who, what, from where."""

from __future__ import annotations

from typing import Any

import pytest

from sspr.audit.models import AuditEvent
from sspr.directory.models import User
from tests.conftest import Api

pytestmark = pytest.mark.django_db


class TestAppendOnly:
    def test_events_cannot_be_changed_or_deleted(self, alice: User) -> None:
        event = AuditEvent.objects.first()
        assert event is not None
        event.reason = "rewritten"
        with pytest.raises(PermissionError):
            event.save()
        with pytest.raises(PermissionError):
            event.delete()
        with pytest.raises(PermissionError):
            AuditEvent.objects.all().delete()
        with pytest.raises(PermissionError):
            AuditEvent.objects.update(reason="x")


class TestRequestContext:
    def test_ip_user_agent_and_correlation_id_are_recorded(self, api: Api, alice: User) -> None:
        response = api.call("POST", "/tenants/contoso/sessions",
                            {"username": alice.upn, "password": "Wrong-Pass-12"},
                            HTTP_USER_AGENT="pytest-agent/1.0",
                            HTTP_X_REQUEST_ID="req-12345678")
        event = AuditEvent.objects.get(activity="Sign-in")
        assert event.ip == "127.0.0.1"
        assert event.user_agent == "pytest-agent/1.0"
        assert event.correlation_id == "req-12345678" == response["X-Request-ID"]

    def test_a_malformed_request_id_is_replaced(self, api: Api, alice: User) -> None:
        response = api.call("GET", "/health", HTTP_X_REQUEST_ID="<script>")
        assert response["X-Request-ID"] != "<script>"
        assert len(response["X-Request-ID"]) == 32


class TestPolicyChangesAreAudited:
    def test_old_and_new_values(self, tenant: Any) -> None:
        from sspr.policy.sspr_policy import update_policy

        update_policy(tenant, {"enabled_for": "all", "methods_required": "2"}, actor="tester")
        event = AuditEvent.objects.get(activity="Update self-service password reset policy")
        assert event.details["changes"] == {
            "enabled_for": {"old": "none", "new": "all"},
            "methods_required": {"old": 1, "new": 2},
        }
