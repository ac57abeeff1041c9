"""The counts behind usage & insights, kept by the database's triggers, stay equal to the same
counts worked out again from the users, registrations and audit events, after every kind of
change, however it is made; `sspr insights check|rebuild` finds and repairs a difference."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from sspr.audit.events import Activity, record
from sspr.audit.models import ActivityCount, AuditEvent
from sspr.directory.models import RoleAssignment, Tenant, User
from sspr.directory.users import create_user
from sspr.insights.counts import differences, registration_counts
from sspr.insights.coverage import _coverage_of_groups, coverage
from sspr.insights.period import parse_period
from sspr.insights.report import insights
from sspr.methods.models import RegisteredMethod, RegistrationCount, RegistrationStanding
from sspr.policy.sspr_policy import get_policy, update_policy
from tests.reset_helpers import register_email, reset_for_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def sspr_on(tenant: Tenant) -> Tenant:
    return reset_for_all(tenant, "email,sms,totp,questions")


def recount(tenant: Tenant) -> dict[frozenset[str], int]:
    """Enabled users by their set of active methods, from the tables, in Python."""
    out: dict[frozenset[str], int] = {}
    for user in User.objects.filter(tenant=tenant, enabled=True):
        key = frozenset(user.methods.filter(state="active").values_list("method", flat=True))
        out[key] = out.get(key, 0) + 1
    return out


def assert_counts_agree(tenant: Tenant) -> None:
    assert registration_counts(tenant) == recount(tenant)
    assert differences(tenant) == []
    policy = get_policy(tenant)
    # The same figures as the query over every user (the way selected groups are counted).
    assert coverage(tenant, policy) == _coverage_of_groups(tenant, policy)


def active(user: User, method: str) -> RegisteredMethod:
    return RegisteredMethod.objects.create(user=user, method=method, state="active")


class TestRegistrationCounts:
    def test_every_kind_of_change_keeps_the_counts_equal_to_a_recount(
        self, sspr_on: Tenant, other_tenant: Tenant, make_user: Any
    ) -> None:
        steps: list[tuple[str, Any]] = [
            ("a user is created, with no method", lambda: create_user(
                sspr_on, "ann@contoso.com")),
            ("users are created in bulk", lambda: User.objects.bulk_create(
                User(tenant=sspr_on, upn=f"u{n}@contoso.com") for n in range(5))),
            ("a disabled user is created", lambda: User.objects.create(
                tenant=sspr_on, upn="off@contoso.com", enabled=False)),
            ("a user with no method is disabled", lambda: User.objects.filter(
                upn="ann@contoso.com").update(enabled=False)),
            ("and enabled again", lambda: User.objects.filter(
                upn="ann@contoso.com").update(enabled=True)),
            ("a user with no method moves to another organisation", lambda: User.objects.filter(
                upn="u4@contoso.com").update(tenant=other_tenant)),
            ("and back", lambda: User.objects.filter(
                upn="u4@contoso.com").update(tenant=sspr_on)),
            ("a method is registered through the flow",
             lambda: register_email(User.objects.get(upn="ann@contoso.com"))),
            ("methods are created in bulk", lambda: RegisteredMethod.objects.bulk_create(
                RegisteredMethod(user=u, method=m, state="active")
                for u in User.objects.filter(upn__startswith="u") for m in ("sms", "totp"))),
            ("a pending registration does not count", lambda: RegisteredMethod.objects.create(
                user=User.objects.get(upn="u0@contoso.com"), method="email")),
            ("a pending registration becomes active", lambda: RegisteredMethod.objects.filter(
                state="pending").update(state="active")),
            ("an active one goes back to pending", lambda: RegisteredMethod.objects.filter(
                user__upn="u1@contoso.com", method="sms").update(state="pending")),
            ("a method is renamed", lambda: RegisteredMethod.objects.filter(
                user__upn="u2@contoso.com", method="totp").update(method="voice")),
            ("a method is removed", lambda: RegisteredMethod.objects.filter(
                user__upn="u3@contoso.com", method="sms").delete()),
            ("a user is disabled", lambda: User.objects.filter(
                upn="u0@contoso.com").update(enabled=False)),
            ("a disabled user registers", lambda: active(
                User.objects.get(upn="u0@contoso.com"), "questions")),
            ("the user is enabled again", lambda: User.objects.filter(
                upn="u0@contoso.com").update(enabled=True)),
            ("a user is saved whole", lambda: User.objects.get(upn="u4@contoso.com").save()),
            ("a user with methods is disabled and moved at once", lambda: User.objects.filter(
                upn="u4@contoso.com").update(enabled=False, tenant=other_tenant)),
            ("a disabled user registers elsewhere", lambda: active(
                User.objects.get(upn="u4@contoso.com"), "email")),
            ("the user is enabled there", lambda: User.objects.filter(
                upn="u4@contoso.com").update(enabled=True)),
            ("and comes back", lambda: User.objects.filter(
                upn="u4@contoso.com").update(tenant=sspr_on)),
            ("a user's last method is removed", lambda: RegisteredMethod.objects.filter(
                user__upn="ann@contoso.com").delete()),
            ("a role is given", lambda: RoleAssignment.objects.create(
                user=User.objects.get(upn="u1@contoso.com"), role="helpdesk-administrator")),
            ("a user with methods is deleted", lambda: User.objects.get(
                upn="u2@contoso.com").delete()),
            ("a user with methods is disabled again", lambda: User.objects.filter(
                upn="u0@contoso.com").update(enabled=False)),
            ("a disabled user with methods is deleted", lambda: User.objects.get(
                upn="u0@contoso.com").delete()),
            ("a user with no method is deleted", lambda: create_user(
                sspr_on, "bob@contoso.com").delete()),
            ("a disabled user with no method is deleted", lambda: User.objects.get(
                upn="off@contoso.com").delete()),
            ("users are deleted in bulk", lambda: User.objects.filter(
                upn__in=["u3@contoso.com", "u4@contoso.com"]).delete()),
            ("another organisation changes", lambda: active(
                make_user(other_tenant, "x@fabrikam.com"), "email")),
            ("a user moves to another organisation", lambda: User.objects.filter(
                upn="u1@contoso.com").update(tenant=other_tenant)),
        ]  # fmt: skip
        for name, change in steps:
            change()
            for tenant in (sspr_on, other_tenant):
                try:
                    assert_counts_agree(tenant)
                except AssertionError as error:
                    raise AssertionError(f"after '{name}', {tenant.slug}: {error}") from None
        assert registration_counts(sspr_on)  # something was counted all along

    def test_users_without_methods_and_ordinary_changes_cost_no_rows(self, sspr_on: Tenant) -> None:
        """Creating users (a sync's bulk inserts) and changing anything of theirs but `enabled`
        and the tenant write nothing to the tables the triggers keep."""
        User.objects.bulk_create(User(tenant=sspr_on, upn=f"u{n}@contoso.com") for n in range(20))
        User.objects.filter(tenant=sspr_on).update(display_name="Someone", mail="a@contoso.com")
        User.objects.filter(tenant=sspr_on).update(enabled=True)  # as it was
        assert not RegistrationStanding.objects.exists()
        assert not RegistrationCount.objects.exists()
        assert registration_counts(sspr_on) == {frozenset(): 20} == recount(sspr_on)

    @pytest.mark.django_db(transaction=True)
    def test_two_first_registrations_at_once_are_both_counted(
        self, sspr_on: Tenant, make_user: Any
    ) -> None:
        """A user with no standing registers two methods in two transactions at once: the
        second waits for the first and counts both methods, not only its own."""
        user = make_user(sspr_on, "ann@contoso.com")
        first_written, first_may_commit = threading.Event(), threading.Event()

        def register(method: str, hold: bool) -> None:
            try:
                with transaction.atomic():
                    active(user, method)
                    if hold:
                        first_written.set()
                        first_may_commit.wait(10)
            finally:
                connection.close()

        first = threading.Thread(target=register, args=("email", True))
        first.start()
        assert first_written.wait(10)
        second = threading.Thread(target=register, args=("sms", False))
        second.start()
        second.join(0.5)  # it is waiting on the first
        first_may_commit.set()
        first.join()
        second.join()
        assert registration_counts(sspr_on) == {frozenset({"email", "sms"}): 1}
        assert differences(sspr_on) == []

    def test_reading_folds_the_rows_into_one_per_set_of_methods(self, sspr_on: Tenant) -> None:
        users = User.objects.bulk_create(
            User(tenant=sspr_on, upn=f"u{n}@contoso.com") for n in range(30)
        )
        for user in users[::2]:
            active(user, "email")
            active(user, "sms")
        before = RegistrationCount.objects.filter(tenant=sspr_on).count()
        first = registration_counts(sspr_on)
        # The users with no method are the enabled users not counted there.
        assert before > 1 and RegistrationCount.objects.filter(tenant=sspr_on).count() == 1
        assert (
            registration_counts(sspr_on)
            == first
            == {frozenset(): 15, frozenset({"email", "sms"}): 15}
        )

    def test_check_finds_a_difference_and_rebuild_repairs_it(
        self, sspr_on: Tenant, make_user: Any
    ) -> None:
        active(make_user(sspr_on, "ann@contoso.com"), "email")
        record(sspr_on, Activity.RESET_PASSWORD, target="ann@contoso.com", methods=["email"])
        call_command("insights", "check", "contoso")
        RegistrationCount.objects.create(tenant=sspr_on, methods="sms", users=3)
        ActivityCount.objects.filter(tenant=sspr_on).delete()
        with pytest.raises(CommandError):
            call_command("insights", "check", "contoso")
        assert len(differences(sspr_on)) == 2
        call_command("insights", "rebuild", "contoso")
        assert differences(sspr_on) == []
        call_command("insights", "check")


class TestActivityCounts:
    def test_events_written_in_any_way_and_pruned_are_counted_as_the_trail_says(
        self, sspr_on: Tenant
    ) -> None:
        now = timezone.now()
        AuditEvent.objects.bulk_create(
            AuditEvent(
                tenant=sspr_on,
                # Oldest first, as the hash chain seals them: retention can delete a prefix.
                occurred_at=now - timedelta(hours=3 * (300 - n)),
                category="UserManagement",
                activity=(Activity.RESET_PROGRESS, Activity.UNLOCK, Activity.RESET_BLOCKED)[n % 3],
                result="failure" if n % 2 else "success",
                reason=f"reason {n % 4}",
                details={"method": "sms"} if n % 3 else {"cannot_reset": ["not_registered"]},
            )
            for n in range(300)
        )
        record(sspr_on, Activity.RESET_PASSWORD, target="a@contoso.com", methods=["email", "sms"])
        record(sspr_on, Activity.RESET_PROGRESS, target="a@contoso.com", reason="step went well")
        assert differences(sspr_on) == []
        # Whole days from the counts, the ends of the period from the trail.
        period = parse_period(now=now + timedelta(days=1))
        report = insights(sspr_on, period).activity
        inside = AuditEvent.objects.filter(
            tenant=sspr_on, occurred_at__gte=period.since, occurred_at__lt=period.before
        )
        unlocks = inside.filter(activity=Activity.UNLOCK)
        assert (report.outcomes["unlock"].success, report.outcomes["unlock"].failure) == (
            unlocks.filter(result="success").count(),
            unlocks.filter(result="failure").count(),
        )
        failed = inside.filter(activity=Activity.RESET_PROGRESS, result="failure").count()
        assert report.outcomes["reset"].failure == failed > 0
        assert report.blocked_events == inside.filter(activity=Activity.RESET_BLOCKED).count()
        # Retention's way of deleting (sspr.audit.retention).
        old = AuditEvent.objects.filter(tenant=sspr_on, occurred_at__lt=now - timedelta(days=20))
        assert old.delete_for_retention() > 0
        assert differences(sspr_on) == []

    def test_a_period_cut_anywhere_counts_like_the_trail(self, sspr_on: Tenant) -> None:
        now = timezone.now()
        AuditEvent.objects.bulk_create(
            AuditEvent(
                tenant=sspr_on,
                occurred_at=now - timedelta(hours=7 * n),
                category="UserManagement",
                activity=Activity.RESET_PASSWORD,
                result="success",
                details={"methods": ["email"]},
            )
            for n in range(100)
        )
        cut = (now - timedelta(days=9, hours=5), now - timedelta(days=2))
        for since, until in [(None, None), cut]:
            period = parse_period(
                since.isoformat() if since else "", until.isoformat() if until else ""
            )
            days = insights(sspr_on, period).activity.days
            resets = AuditEvent.objects.filter(tenant=sspr_on, activity=Activity.RESET_PASSWORD)
            expected = resets.filter(
                occurred_at__gte=period.since, occurred_at__lt=period.before
            ).count()
            assert sum(d.resets_succeeded for d in days) == expected > 0
            for day in days:
                assert (
                    day.resets_succeeded
                    == resets.filter(
                        occurred_at__gte=max(period.since, _midnight(day.day)),
                        occurred_at__lt=min(period.before, _midnight(day.day) + timedelta(days=1)),
                    ).count()
                )


def _midnight(day: Any) -> Any:
    from datetime import UTC, datetime, time

    return datetime.combine(day, time(), tzinfo=UTC)


def test_the_triggers_are_there(sspr_on: Tenant) -> None:
    """The migrations installed them on this database."""
    update_policy(sspr_on, {"enabled_for": "all"}, "test")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'sspr_insights_%'")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'sspr_insights_%'"
            )
        # PostgreSQL has one trigger for inserts and deletes where SQLite needs two.
        assert len(cursor.fetchall()) == (9 if connection.vendor == "postgresql" else 10)
