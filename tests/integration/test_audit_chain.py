"""The audit trail is tamper-evident: each tenant's events form a SHA-256 hash chain that
`sspr audit verify` recomputes, naming the first event that was changed or removed, and that
retention pruning shortens without breaking."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from sspr.audit import chain, sealer
from sspr.audit.events import Activity, record
from sspr.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditSeal
from sspr.directory.models import Tenant, User
from tests.conftest import Api

pytestmark = pytest.mark.django_db


def audit(*args: str) -> tuple[int, str, str]:
    """Run `sspr audit ...` in this process: (exit status, standard output, standard error)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("audit", *args, stdout=out, stderr=err)
    except SystemExit as leaving:
        return int(leaving.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def run_flows(api: Api, admin: User, alice: User) -> None:
    """Sign-ins that work and fail, an administrator's reset, a policy change: real events."""
    assert api.sign_in("contoso", alice.upn, "Wrong-Pass-12").status_code == 401
    assert api.sign_in("contoso", admin.upn).status_code == 201
    reset = api.call("POST", f"/tenants/contoso/users/{alice.upn}/password-reset", {})
    assert reset.status_code == 200, reset.content
    patched = api.call("PATCH", "/tenants/contoso/sspr-policy", {"enabled_for": "all"})
    assert patched.status_code == 200, patched.content


def execute(sql: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def admin(tenant: Tenant, make_user: Callable[..., User]) -> User:
    return make_user(tenant, "admin@contoso.com", roles=["global-administrator"])


@pytest.fixture
def flows(api: Api, admin: User, alice: User) -> list[AuditEvent]:
    run_flows(api, admin, alice)
    return list(AuditEvent.objects.filter(tenant__slug="contoso").order_by("id"))


class TestVerify:
    def test_real_flows_verify(self, flows: list[AuditEvent]) -> None:
        """Every event of real flows is sealed and the chain recomputes: exit 0, a count."""
        status, out, err = audit("verify", "contoso")
        assert status == 0, err
        assert f"contoso: {len(flows)} events verified" in out
        assert out.splitlines()[-1] == f"{len(flows)} events verified"
        assert AuditSeal.objects.filter(tenant__slug="contoso").count() == len(flows)
        activities = {e.activity for e in flows}
        assert {
            Activity.SIGN_IN,
            Activity.RESET_PASSWORD_BY_ADMIN,
            Activity.UPDATE_SSPR_POLICY,
        } <= activities

    def test_events_are_sealed_when_their_transaction_commits(
        self, tenant: Tenant, django_capture_on_commit_callbacks: Any
    ) -> None:
        """No lock is taken while the change's transaction runs; the seal follows its commit."""
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            event = record(tenant, Activity.SIGN_OUT, actor="someone@contoso.com")
            assert not AuditSeal.objects.filter(event_id=event.pk).exists()
        seal = AuditSeal.objects.get(event_id=event.pk)
        head = AuditChainHead.objects.get(tenant=tenant)
        assert (head.seq, head.hash) == (seal.seq, seal.hash)
        assert seal.hash == chain.link_hash(
            chain.fields(event, "contoso"), seal.previous_hash, seal.seq
        )

    def test_the_events_of_one_transaction_are_sealed_together_in_order(
        self, tenant: Tenant, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
            events = [
                record(tenant, Activity.SIGN_OUT, actor=f"user{i}@contoso.com") for i in range(3)
            ]
        assert len(callbacks) == 1  # one locking transaction after the commit, not three
        seals = [AuditSeal.objects.get(event_id=e.pk) for e in events]
        assert [s.seq for s in seals] == list(range(seals[0].seq, seals[0].seq + 3))
        assert audit("verify", "contoso")[0] == 0

    def test_a_rolled_back_event_leaves_no_trace_in_the_chain(
        self, tenant: Tenant, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    record(tenant, Activity.SIGN_OUT, actor="ghost@contoso.com")
                    raise RuntimeError("the change fails")
            except RuntimeError:
                pass
        assert callbacks == []
        assert audit("verify", "contoso")[0] == 0

    def test_an_edited_event_is_named(self, flows: list[AuditEvent]) -> None:
        """A row changed behind the application's back (raw SQL) breaks its link."""
        assert audit("verify")[0] == 0
        victim = flows[2]
        execute("UPDATE audit_auditevent SET reason = %s WHERE id = %s", "nothing", victim.pk)
        status, _, err = audit("verify", "contoso")
        assert status == 1
        assert f"event {victim.pk}" in err
        assert "event changed" in err
        seq = AuditSeal.objects.get(event_id=victim.pk).seq
        assert f"seq {seq}" in err
        assert f"{victim.occurred_at:%Y-%m-%d %H:%M:%S}" in err

    def test_details_and_tenant_are_covered_too(
        self, flows: list[AuditEvent], other_tenant: Tenant
    ) -> None:
        assert audit("verify")[0] == 0
        victim = flows[-1]
        execute("UPDATE audit_auditevent SET details = %s WHERE id = %s", "{}", victim.pk)
        assert "event changed" in audit("verify", "contoso")[2]
        execute(
            "UPDATE audit_auditevent SET details = %s, tenant_id = %s WHERE id = %s",
            "{}",
            other_tenant.pk,
            victim.pk,
        )
        status, _, err = audit("verify", "contoso")
        assert status == 1 and f"event {victim.pk}" in err

    def test_a_deleted_event_is_reported(self, flows: list[AuditEvent]) -> None:
        assert audit("verify")[0] == 0
        victim = flows[3]
        execute("DELETE FROM audit_auditevent WHERE id = %s", victim.pk)
        status, _, err = audit("verify", "contoso")
        assert status == 1
        assert f"event {victim.pk}" in err and "event missing" in err

    def test_a_deleted_event_with_its_seal_breaks_the_chain(self, flows: list[AuditEvent]) -> None:
        assert audit("verify")[0] == 0
        victim = flows[3]
        seq = AuditSeal.objects.get(event_id=victim.pk).seq
        execute("DELETE FROM audit_auditevent WHERE id = %s", victim.pk)
        execute("DELETE FROM audit_auditseal WHERE event_id = %s", victim.pk)
        status, _, err = audit("verify", "contoso")
        assert status == 1
        assert f"seq {seq}" in err and "seal chain broken" in err

    def test_events_cut_off_the_end_are_reported(self, flows: list[AuditEvent]) -> None:
        assert audit("verify")[0] == 0
        last = flows[-1]
        execute("DELETE FROM audit_auditseal WHERE event_id = %s", last.pk)
        execute("DELETE FROM audit_auditevent WHERE id = %s", last.pk)
        status, _, err = audit("verify", "contoso")
        assert status == 1 and "seal chain broken" in err and "missing" in err

    def test_a_rewritten_seal_does_not_hide_an_edit(self, flows: list[AuditEvent]) -> None:
        """Recomputing the edited event's own link is not enough: the next link disagrees."""
        assert audit("verify")[0] == 0
        victim = next(e for e in flows if e.result == "failure")
        execute("UPDATE audit_auditevent SET result = %s WHERE id = %s", "success", victim.pk)
        seal = AuditSeal.objects.get(event_id=victim.pk)
        victim.refresh_from_db()
        forged = chain.link_hash(chain.fields(victim, "contoso"), seal.previous_hash, seal.seq)
        execute("UPDATE audit_auditseal SET hash = %s WHERE id = %s", forged, seal.pk)
        status, _, err = audit("verify", "contoso")
        assert status == 1
        assert f"seq {seal.seq + 1}" in err and "seal chain broken" in err

    def test_one_tenant_broken_fails_the_run_and_is_named(
        self, flows: list[AuditEvent], other_tenant: Tenant
    ) -> None:
        record(other_tenant, Activity.SIGN_OUT, actor="bob@fabrikam.com")
        assert audit("verify")[0] == 0
        victim = AuditEvent.objects.filter(tenant=other_tenant).last()
        assert victim is not None
        execute("UPDATE audit_auditevent SET actor = %s WHERE id = %s", "eve", victim.pk)
        status, out, err = audit("verify")
        assert status == 1
        assert "contoso:" in out and "events verified" in out
        assert err.startswith("fabrikam: BROKEN") and f"event {victim.pk}" in err
        assert audit("verify", "contoso")[0] == 0

    def test_seals_are_append_only(self, flows: list[AuditEvent]) -> None:
        audit("verify")
        seal = AuditSeal.objects.first()
        assert seal is not None
        with pytest.raises(PermissionError):
            seal.save()
        with pytest.raises(PermissionError):
            seal.delete()
        with pytest.raises(PermissionError):
            AuditSeal.objects.all().delete()
        with pytest.raises(PermissionError):
            AuditSeal.objects.update(hash="0")


def _old_event(tenant: Tenant, days: int, activity: str = Activity.SIGN_IN) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant,
        category="Authentication",
        activity=activity,
        result=AuditEvent.Result.SUCCESS,
        actor="old@northwind.test",
        occurred_at=timezone.now() - timedelta(days=days),
    )


@pytest.fixture
def northwind(db: Any) -> Tenant:
    """A tenant whose trail starts years ago: three old events, sealed in their time."""
    tenant = Tenant.objects.create(slug="northwind", name="Northwind", plan="p1")
    for days in (400, 200, 120):
        _old_event(tenant, days)
    assert chain.seal_pending(tenant, everything=True) == 3
    return tenant


class TestRetention:
    def test_prune_keeps_verify_green(self, northwind: Tenant) -> None:
        """Old events go with their seals; a checkpoint lets verify start after them."""
        recent = record(northwind, Activity.SIGN_OUT, actor="new@northwind.test")
        old = list(AuditEvent.objects.filter(tenant=northwind).exclude(pk=recent.pk))
        assert audit("verify", "northwind")[0] == 0

        status, out, err = audit("prune", "northwind", "--days", "90")
        assert status == 0, err
        assert "northwind: 3 events older than" in out
        assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
        assert not AuditSeal.objects.filter(event_id__in=[e.pk for e in old]).exists()
        assert AuditEvent.objects.filter(pk=recent.pk).exists()
        checkpoint = AuditCheckpoint.objects.get(tenant=northwind)
        assert (checkpoint.seq, checkpoint.events_deleted) == (3, 3)
        pruning = AuditEvent.objects.get(tenant=northwind, activity=Activity.DELETE_AUDIT_EVENTS)
        assert pruning.details["deleted"] == 3 and pruning.details["through_seq"] == 3
        assert pruning.actor == "sspr command line"

        status, out, err = audit("verify", "northwind")
        assert status == 0, err
        assert "northwind: 2 events verified" in out
        assert "after the retention checkpoint at seq 3" in out
        # The chain goes on from the checkpoint, and an edit after it is still caught.
        later = record(northwind, Activity.SIGN_OUT, actor="later@northwind.test")
        assert audit("verify", "northwind")[0] == 0
        execute("UPDATE audit_auditevent SET actor = %s WHERE id = %s", "x", later.pk)
        status, _, err = audit("verify", "northwind")
        assert status == 1 and f"event {later.pk}" in err

    def test_pruning_all_then_again(self, northwind: Tenant) -> None:
        """Every event old: all go; the next pruning finds nothing; verify stays green."""
        assert audit("prune", "northwind", "--days", "30")[1].startswith("northwind: 3 events")
        assert audit("verify", "northwind")[0] == 0
        status, out, _ = audit("prune", "northwind", "--days", "30")
        assert status == 0 and "northwind: 0 events" in out
        assert AuditCheckpoint.objects.filter(tenant=northwind).count() == 1
        assert audit("verify", "northwind")[0] == 0

    def test_recent_real_flows_are_kept(self, flows: list[AuditEvent]) -> None:
        status, out, _ = audit("prune", "contoso", "--days", "1")
        assert status == 0 and "contoso: 0 events" in out
        assert AuditEvent.objects.filter(tenant__slug="contoso").count() == len(flows)
        assert audit("verify", "contoso")[0] == 0

    def test_retention_off_deletes_nothing(self, northwind: Tenant, settings: Any) -> None:
        settings.AUDIT_RETENTION_DAYS = 0
        status, out, _ = audit("prune")
        assert status == 0 and "Retention is off" in out
        assert AuditEvent.objects.filter(tenant=northwind).count() == 3

    def test_the_setting_is_the_default(self, northwind: Tenant, settings: Any) -> None:
        settings.AUDIT_RETENTION_DAYS = 150
        status, out, _ = audit("prune", "northwind")
        assert status == 0 and "northwind: 2 events" in out
        assert AuditEvent.objects.filter(tenant=northwind).count() == 2  # 120 days + pruning
        assert audit("verify", "northwind")[0] == 0

    def test_a_bad_period_is_one_clear_line(self, tenant: Tenant) -> None:
        with pytest.raises(CommandError, match="at least one day"):
            call_command("audit", "prune", "--days", "-5", stdout=StringIO())


def write_concurrently(tenant: Tenant, transactions: int, activities: tuple[str, ...]) -> None:
    """Four threads, each committing `transactions` transactions of one event per activity."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(transactions):
                with transaction.atomic():
                    for activity in activities:
                        record(tenant, activity, actor=f"w{n}-{i}@contoso.com")
        except BaseException as error:  # noqa: BLE001 -- reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
class TestConcurrentWriters:
    def test_concurrent_requests_seal_one_gapless_chain(self, tenant: Tenant) -> None:
        """Writers never wait for one another's whole transaction; their events still end up
        in one chain with no gap and no duplicate sequence number."""
        write_concurrently(tenant, 8, (Activity.SIGN_OUT,))
        events = AuditEvent.objects.filter(tenant=tenant).count()
        seqs = sorted(AuditSeal.objects.filter(tenant=tenant).values_list("seq", flat=True))
        assert seqs == list(range(1, events + 1))
        status, out, err = audit("verify", "contoso")
        assert status == 0, err
        assert f"contoso: {events} events verified" in out

    def test_a_serving_process_seals_in_its_own_thread_off_the_request_path(
        self, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """As under `sspr serve`: the writers only hand their events over; the sealing thread
        seals them all into one gapless chain, and a clean stop leaves nothing unsealed."""
        sealed_by: list[str] = []
        seal_pending = chain.seal_pending

        def watched(*args: Any, **kwargs: Any) -> int:
            sealed_by.append(threading.current_thread().name)
            return seal_pending(*args, **kwargs)

        monkeypatch.setattr(chain, "seal_pending", watched)
        sealer.start_background()
        try:
            write_concurrently(tenant, 10, (Activity.SIGN_OUT, Activity.SIGN_IN))
        finally:
            sealer.stop(timeout=30)
        events = AuditEvent.objects.filter(tenant=tenant).count()
        assert events >= 80
        seqs = sorted(AuditSeal.objects.filter(tenant=tenant).values_list("seq", flat=True))
        assert seqs == list(range(1, events + 1))
        # Never by a writer; fewer sealing transactions than the writers' 40 transactions.
        assert set(sealed_by) == {"sspr-audit-sealer"} and len(sealed_by) < 40
        monkeypatch.undo()
        status, out, err = audit("verify", "contoso")
        assert status == 0, err
        assert f"contoso: {events} events verified" in out and "newly sealed" not in out
