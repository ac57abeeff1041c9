"""Applying the agent's directory sync: users and groups by on-premises anchor.

Each batch is applied in one transaction together with its cursor, so a sync resumes from the
last batch that was applied and never skips one. Applying the same batch twice changes nothing
the second time. A record that cannot be taken (a malformed user name, a name a cloud user
already holds) is reported with its anchor and does not stop the batch. A full sync marks every
object it sees; at its final batch, synced objects it did not see are deleted. Group members
the sync has not seen yet are resolved when they arrive, at the latest at the end of the sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from sspr.directory.identifiers import validate_upn
from sspr.directory.models import Group, Source, Tenant, User
from sspr.errors import DomainError, InvalidValue
from sspr.hybrid.bulk_insert import insert_rows
from sspr.hybrid.models import SyncedGroup, SyncedUser, SyncState
from sspr.hybrid.sync_state import record_progress
from sspr_protocol.messages import GroupRecord, SyncBatch, UserRecord

log = logging.getLogger(__name__)

_CHUNK = 500  # parameters per IN (...) query
_USER_FIELDS = (
    "upn",
    "display_name",
    "given_name",
    "family_name",
    "mail",
    "mobile_phone",
    "office_phone",
    "enabled",
    "on_prem_dn",
    "password_last_set",
)


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def error(self, anchor: str, dn: str, code: str, message: str) -> None:
        self.errors.append(
            {"anchor": anchor[:64], "dn": dn[:1024], "code": code, "message": message}
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _record(cls: type[UserRecord] | type[GroupRecord], data: Any) -> UserRecord | GroupRecord:
    if not isinstance(data, dict):
        raise InvalidValue("A record is a JSON object.")
    names = {f.name for f in fields(cls)}
    try:
        item = cls(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        raise InvalidValue("A record needs at least 'anchor', 'dn' and a name.") from None
    if not isinstance(item.anchor, str) or not 1 <= len(item.anchor) <= 64:
        raise InvalidValue("A record's anchor has 1 to 64 characters.")
    if not isinstance(item.dn, str) or len(item.dn) > 1024:
        raise InvalidValue("A record's DN has at most 1024 characters.")
    return item


def _text(value: Any, size: int) -> str:
    return str(value or "").strip()[:size]


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise InvalidValue("password_last_set is a Unix time in seconds.") from None


@dataclass
class _UserPlan:
    """What one user record will write: its values, onto its existing row or a new one."""

    record: UserRecord
    state: SyncedUser | None
    values: dict[str, Any]
    locked_out: bool


class _Batch:
    """One batch being applied: what it saw, what it touched, what it reports."""

    def __init__(self, tenant: Tenant, batch: SyncBatch) -> None:
        self.tenant = tenant
        self.batch = batch
        self.report = SyncReport()
        self.counted: dict[tuple[str, int], str] = {}  # how each object was counted
        self.touched_groups: set[int] = set()
        self.new_objects = False

    def count(self, kind: str, pk: int, outcome: str) -> None:
        """Count an object once per batch; "unchanged" becomes "updated" when its members
        change later in the batch."""
        before = self.counted.get((kind, pk))
        if before == outcome or before in ("created", "updated"):
            return
        if before == "unchanged":
            self.report.unchanged -= 1
        self.counted[(kind, pk)] = outcome
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)

    # -- users ---------------------------------------------------------------------------

    def users(self, raw: list[Any]) -> None:
        """Plan every record in Python, then write the page in a handful of bulk statements.

        A conflict the plan could not foresee (a name taken in between, or a rename that only
        works in the page's order) undoes the bulk write; the page is then written one record
        at a time so that only the offending record is refused.
        """
        records: list[UserRecord] = []
        for data in raw:
            try:
                item = _record(UserRecord, data)
            except DomainError as bad:
                anchor = str(data.get("anchor", ""))[:64] if isinstance(data, dict) else ""
                self.report.error(anchor, "", "invalid_record", bad.message)
                continue
            assert isinstance(item, UserRecord)
            records.append(item)
        known = self._known_users([r.anchor for r in records])
        holders = self._upn_holders(records)
        plans: dict[str, _UserPlan] = {}  # by anchor: the same anchor twice, the last wins
        for r in records:
            state = known.get(r.anchor)
            try:
                values = self._user_values(r, holders)
            except DomainError as refused:
                self.report.error(r.anchor, r.dn, refused.code, refused.message)
                continue
            before = plans.get(r.anchor)
            previous = before.values["upn"] if before else state.user.upn if state else None
            if previous is not None and holders.get(previous) == (r.anchor, Source.SYNCED):
                del holders[previous]
            holders[values["upn"]] = (r.anchor, Source.SYNCED)
            plans[r.anchor] = _UserPlan(r, state, values, bool(r.locked_out))
        try:
            with transaction.atomic():
                self._write_users(list(plans.values()))
        except IntegrityError:
            for plan in plans.values():
                try:
                    with transaction.atomic():
                        self._write_users([plan])
                except IntegrityError:
                    upn = plan.values["upn"]
                    self.report.error(
                        plan.record.anchor,
                        plan.record.dn,
                        "conflict",
                        f"The name {upn} or the anchor is already taken.",
                    )
        # Seen even when refused: a record this sync could not take is not a deleted one.
        seen = [state.pk for state in known.values()]
        for chunk_ids in range(0, len(seen), _CHUNK):
            SyncedUser.objects.filter(pk__in=seen[chunk_ids : chunk_ids + _CHUNK]).exclude(
                last_seen_sync=self.batch.sync_id
            ).update(last_seen_sync=self.batch.sync_id)

    def _known_users(self, anchors: list[str]) -> dict[str, SyncedUser]:
        known: dict[str, SyncedUser] = {}
        for chunk in _chunks(anchors):
            for state in SyncedUser.objects.filter(
                tenant=self.tenant, anchor__in=chunk
            ).select_related("user"):
                known[state.anchor] = state
        # Synced users without a sync row (created before it existed): adopt them.
        adopted = []
        for chunk in _chunks([a for a in anchors if a not in known]):
            for user in User.objects.filter(
                tenant=self.tenant, source=Source.SYNCED, on_prem_anchor__in=chunk
            ):
                adopted.append(
                    SyncedUser(user=user, tenant=self.tenant, anchor=user.on_prem_anchor)
                )
        for state in SyncedUser.objects.bulk_create(adopted):
            known[state.anchor] = state
        return known

    def _upn_holders(self, records: list[UserRecord]) -> dict[str, tuple[str, str]]:
        """Who holds each name the page asks for: upn -> (on-premises anchor, source)."""
        wanted = []
        for r in records:
            try:
                wanted.append(validate_upn(str(r.upn)))
            except DomainError:
                continue
        holders: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(wanted):
            for upn, anchor, source in User.objects.filter(
                tenant=self.tenant, upn__in=chunk
            ).values_list("upn", "on_prem_anchor", "source"):
                holders[upn] = (anchor, source)
        return holders

    def _user_values(self, r: UserRecord, holders: dict[str, tuple[str, str]]) -> dict[str, Any]:
        try:
            upn = validate_upn(str(r.upn))
        except InvalidValue:
            raise _Refused(
                "invalid_upn",
                f"'{str(r.upn)[:113]}' is not a valid user name (user principal name); the "
                "account was not synchronised.",
            ) from None
        holder = holders.get(upn)
        if holder is not None and holder != (r.anchor, Source.SYNCED):
            cloud = holder[1] == Source.CLOUD
            raise _Refused(
                "upn_conflict",
                f"{'A cloud' if cloud else 'Another synchronised'} user already holds the name "
                f"{upn}; this on-premises account was not synchronised.",
            )
        mail = _text(r.mail, 254).lower()
        if mail:
            try:
                validate_email(mail)
            except ValidationError:
                self.report.error(
                    r.anchor,
                    r.dn,
                    "invalid_mail",
                    f"'{mail}' is not an email address; it was left out.",
                )
                mail = ""
        return {
            "upn": upn,
            "display_name": _text(r.display_name, 256) or upn.split("@")[0],
            "given_name": _text(r.given_name, 64),
            "family_name": _text(r.family_name, 64),
            "mail": mail,
            "mobile_phone": _text(r.mobile_phone, 32),
            "office_phone": _text(r.office_phone, 32),
            "enabled": bool(r.enabled),
            "on_prem_dn": _text(r.dn, 1024),
            "password_last_set": _timestamp(r.password_last_set),
        }

    def _write_users(self, plans: list[_UserPlan]) -> None:
        """Renames first (they may free names that new users take), then the new users."""
        changed: list[User] = []
        fields: set[str] = set()
        relocked: list[SyncedUser] = []
        created: list[_UserPlan] = []
        for plan in plans:
            state = plan.state
            if state is None:
                created.append(plan)
                continue
            names = [n for n in _USER_FIELDS if getattr(state.user, n) != plan.values[n]]
            if names:
                changed.append(User(pk=state.pk, **plan.values))
                fields.update(names)
            if state.locked_out != plan.locked_out:
                relocked.append(SyncedUser(pk=state.pk, locked_out=plan.locked_out))
        if changed:
            User.objects.bulk_update(changed, sorted(fields))
        if relocked:
            SyncedUser.objects.bulk_update(relocked, ["locked_out"])
        if created:
            insert_rows(
                User,
                [
                    User(
                        tenant=self.tenant,
                        source=Source.SYNCED,
                        on_prem_anchor=plan.record.anchor,
                        **plan.values,
                    )
                    for plan in created
                ],
            )
        new_ids = _user_ids(self.tenant, [plan.record.anchor for plan in created])
        insert_rows(
            SyncedUser,
            [
                SyncedUser(
                    user_id=new_ids[plan.record.anchor],
                    tenant=self.tenant,
                    anchor=plan.record.anchor,
                    last_seen_sync=self.batch.sync_id,
                    locked_out=plan.locked_out,
                )
                for plan in created
            ],
        )
        # Counted only once written: a page written again one by one is counted then.
        updated = {u.pk for u in changed} | {s.pk for s in relocked}
        for plan in plans:
            if plan.state is not None:
                pk = plan.state.pk
                self.count("user", pk, "updated" if pk in updated else "unchanged")
        for pk in new_ids.values():
            self.new_objects = True
            self.count("user", pk, "created")

    # -- groups --------------------------------------------------------------------------

    def groups(self, raw: list[Any]) -> None:
        records: list[GroupRecord] = []
        for data in raw:
            try:
                item = _record(GroupRecord, data)
                assert isinstance(item, GroupRecord)
                if not isinstance(item.name, str) or not 1 <= len(item.name.strip()) <= 256:
                    raise InvalidValue("A group's name has 1 to 256 characters.")
                if not isinstance(item.member_anchors, list) or not all(
                    isinstance(a, str) for a in item.member_anchors
                ):
                    raise InvalidValue("A group's member_anchors is a list of anchors.")
            except DomainError as bad:
                anchor = str(data.get("anchor", ""))[:64] if isinstance(data, dict) else ""
                self.report.error(anchor, "", "invalid_record", bad.message)
                continue
            records.append(item)
        anchors = [r.anchor for r in records]
        known: dict[str, SyncedGroup] = {}
        for chunk in _chunks(anchors):
            for state in SyncedGroup.objects.filter(
                tenant=self.tenant, anchor__in=chunk
            ).select_related("group"):
                known[state.anchor] = state
        for r in records:
            current = known.get(r.anchor)
            try:
                current = known[r.anchor] = self._group(r, current)
            except DomainError as refused:
                self.report.error(r.anchor, r.dn, refused.code, refused.message)
            if current is not None and current.last_seen_sync != self.batch.sync_id:
                SyncedGroup.objects.filter(pk=current.pk).update(last_seen_sync=self.batch.sync_id)
                current.last_seen_sync = self.batch.sync_id

    def _group(self, r: GroupRecord, state: SyncedGroup | None) -> SyncedGroup:
        name = r.name.strip()
        members = list(dict.fromkeys(a for a in r.member_anchors if a and a != r.anchor))
        holder = Group.objects.filter(tenant=self.tenant, name=name).first()
        if holder is not None and (state is None or holder.pk != state.pk):
            kind = "A cloud" if holder.source == Source.CLOUD else "Another synchronised"
            raise _Refused(
                "group_name_conflict",
                f"{kind} group is already called '{name}'; this on-premises group was not "
                "synchronised.",
            )
        if state is None:
            try:
                with transaction.atomic():
                    group = Group.objects.create(
                        tenant=self.tenant,
                        name=name,
                        source=Source.SYNCED,
                        on_prem_anchor=r.anchor,
                    )
                    created = SyncedGroup.objects.create(
                        group=group,
                        tenant=self.tenant,
                        anchor=r.anchor,
                        dn=r.dn[:1024],
                        last_seen_sync=self.batch.sync_id,
                        member_anchors=members,
                        unresolved=members,
                    )
            except IntegrityError:
                raise _Refused("conflict", f"The group name '{name}' is already taken.") from None
            self.new_objects = True
            self.touched_groups.add(group.pk)
            self.count("group", group.pk, "created")
            return created
        group = state.group
        changed = False
        if group.name != name:
            group.name = name
            group.save(update_fields=["name"])
            changed = True
        if state.dn != r.dn[:1024] or state.member_anchors != members:
            SyncedGroup.objects.filter(pk=state.pk).update(dn=r.dn[:1024], member_anchors=members)
            state.dn, state.member_anchors = r.dn[:1024], members
            changed = True
        self.touched_groups.add(group.pk)
        self.count("group", group.pk, "updated" if changed else "unchanged")
        return state

    # -- deletions and members -------------------------------------------------------------

    def delete(self, users: Iterable[User], groups: Iterable[Group]) -> None:
        for user in users:
            self.touched_groups.update(user.member_of.values_list("pk", flat=True))
            self.report.deleted += 1
            user.delete()
        for group in groups:
            self.touched_groups.update(group.parent_groups.values_list("pk", flat=True))
            self.touched_groups.discard(group.pk)
            self.report.deleted += 1
            group.delete()

    def delete_anchors(self, anchors: list[str]) -> None:
        for chunk in _chunks([a for a in anchors if isinstance(a, str)]):
            self.delete(
                User.objects.filter(
                    tenant=self.tenant, source=Source.SYNCED, on_prem_anchor__in=chunk
                ),
                Group.objects.filter(
                    tenant=self.tenant, source=Source.SYNCED, on_prem_anchor__in=chunk
                ),
            )

    def delete_unseen(self) -> None:
        """Delete what the full sync did not see, unless that is suspiciously much.

        Like Entra Connect's accidental-delete prevention: a scope or filter typed wrong must
        not empty the tenant. Above the limit nothing is deleted and the sync reports why.
        """
        sync_id = self.batch.sync_id
        users = User.objects.filter(tenant=self.tenant, source=Source.SYNCED).exclude(
            sync_state__last_seen_sync=sync_id
        )
        groups = Group.objects.filter(tenant=self.tenant, source=Source.SYNCED).exclude(
            sync_state__last_seen_sync=sync_id
        )
        gone = users.count() + groups.count()
        limit = settings.SYNC_DELETION_LIMIT
        if limit and gone > limit:
            self.report.error(
                "",
                "",
                "deletion_threshold",
                f"This full sync would delete {gone} objects, more than the limit of {limit}; "
                "nothing was deleted. Check the agent's base DN and filter, or raise "
                "SSPR_SYNC_DELETION_LIMIT for one sync if the deletions are intended.",
            )
            log.warning(
                "sync_deletions_held tenant=%s count=%d limit=%d", self.tenant.slug, gone, limit
            )
            return
        self.delete(users, groups)

    def resolve_members(self, pending: bool) -> None:
        """Set the members of the groups this batch touched (and, with `pending`, of every
        group still waiting for members) from their member anchors."""
        states = {
            s.pk: s
            for s in SyncedGroup.objects.filter(tenant=self.tenant, pk__in=self.touched_groups)
        }
        if pending:
            for s in SyncedGroup.objects.filter(tenant=self.tenant).exclude(unresolved=[]):
                states.setdefault(s.pk, s)
        for state in states.values():
            anchors = list(state.member_anchors)
            users = _by_anchor(SyncedUser, self.tenant, anchors)
            groups = _by_anchor(SyncedGroup, self.tenant, anchors)
            unresolved = [a for a in anchors if a not in users and a not in groups]
            changed = _set_members(
                Group.members.through, "group_id", "user_id", state.pk, set(users.values())
            )
            changed |= _set_members(
                Group.member_groups.through,
                "from_group_id",
                "to_group_id",
                state.pk,
                set(groups.values()),
            )
            if unresolved != state.unresolved:
                SyncedGroup.objects.filter(pk=state.pk).update(unresolved=unresolved)
            if changed:
                self.count("group", state.pk, "updated")


def _user_ids(tenant: Tenant, anchors: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(anchors):
        ids.update(
            User.objects.filter(
                tenant=tenant, source=Source.SYNCED, on_prem_anchor__in=chunk
            ).values_list("on_prem_anchor", "pk")
        )
    return ids


def _by_anchor(model: Any, tenant: Tenant, anchors: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(anchors):
        found.update(
            model.objects.filter(tenant=tenant, anchor__in=chunk).values_list("anchor", "pk")
        )
    return found


def _set_members(through: Any, owner: str, member: str, pk: int, wanted: set[int]) -> bool:
    current = set(through.objects.filter(**{owner: pk}).values_list(member, flat=True))
    if current == wanted:
        return False
    through.objects.filter(**{owner: pk, f"{member}__in": current - wanted}).delete()
    through.objects.bulk_create([through(**{owner: pk, member: m}) for m in wanted - current])
    return True


class _Refused(DomainError):
    """One record the sync could not take; reported, and the batch goes on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def apply_batch(tenant: Tenant, batch: SyncBatch) -> SyncReport:
    """Apply one page of a sync, with its cursor, in one transaction."""
    if batch.mode not in ("full", "delta"):
        raise InvalidValue("A sync batch's mode is 'full' or 'delta'.", field="mode")
    if not isinstance(batch.sync_id, str) or not 1 <= len(batch.sync_id) <= 64:
        raise InvalidValue("A sync batch needs a sync_id of 1 to 64 characters.", field="sync_id")
    if not isinstance(batch.cursor, str) or len(batch.cursor) > 256:
        raise InvalidValue("A sync cursor has at most 256 characters.", field="cursor")
    started = timezone.now()
    with transaction.atomic():
        state, _ = SyncState.objects.select_for_update().get_or_create(tenant=tenant)
        work = _Batch(tenant, batch)
        work.users(list(batch.users))
        work.groups(list(batch.groups))
        work.delete_anchors(list(batch.deleted_anchors))
        end_of_sync = batch.final or batch.mode == "delta"
        if batch.mode == "full" and batch.final:
            work.delete_unseen()
        work.resolve_members(pending=end_of_sync and (work.new_objects or batch.final))
        record_progress(state, batch, work.report, started, len(batch.users), len(batch.groups))
    report = work.report
    log.info(
        "sync_batch_applied tenant=%s sync=%s mode=%s final=%s created=%d updated=%d "
        "deleted=%d unchanged=%d errors=%d",
        tenant.slug,
        batch.sync_id,
        batch.mode,
        batch.final,
        report.created,
        report.updated,
        report.deleted,
        report.unchanged,
        len(report.errors),
    )
    return report
