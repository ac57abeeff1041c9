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
        anchors = [r.anchor for r in records]
        known: dict[str, SyncedUser] = {}
        for chunk in _chunks(anchors):
            for state in SyncedUser.objects.filter(
                tenant=self.tenant, anchor__in=chunk
            ).select_related("user"):
                known[state.anchor] = state
        # Synced users without a sync row (created before it existed): adopt them.
        missing = [a for a in anchors if a not in known]
        for chunk in _chunks(missing):
            for user in User.objects.filter(
                tenant=self.tenant, source=Source.SYNCED, on_prem_anchor__in=chunk
            ):
                known[user.on_prem_anchor] = SyncedUser.objects.create(
                    user=user, tenant=self.tenant, anchor=user.on_prem_anchor
                )
        upns: dict[str, int] = {}
        wanted = []
        for r in records:
            try:
                wanted.append(validate_upn(str(r.upn)))
            except DomainError:
                continue
        for chunk in _chunks(wanted):
            upns.update(
                User.objects.filter(tenant=self.tenant, upn__in=chunk).values_list("upn", "pk")
            )
        seen: list[int] = []
        for r in records:
            current = known.get(r.anchor)
            if current is not None:
                seen.append(current.pk)
            try:
                # The same anchor twice in one page: the second record updates the first.
                known[r.anchor] = self._user(r, current, upns)
            except DomainError as refused:
                self.report.error(r.anchor, r.dn, refused.code, refused.message)
        for chunk_ids in range(0, len(seen), _CHUNK):
            SyncedUser.objects.filter(pk__in=seen[chunk_ids : chunk_ids + _CHUNK]).exclude(
                last_seen_sync=self.batch.sync_id
            ).update(last_seen_sync=self.batch.sync_id)

    def _user(self, r: UserRecord, state: SyncedUser | None, upns: dict[str, int]) -> SyncedUser:
        try:
            upn = validate_upn(str(r.upn))
        except InvalidValue:
            raise _Refused(
                "invalid_upn",
                f"'{str(r.upn)[:113]}' is not a valid user name (user principal name); the "
                "account was not synchronised.",
            ) from None
        holder = upns.get(upn)
        if holder is not None and (state is None or holder != state.pk):
            cloud = User.objects.filter(pk=holder, source=Source.CLOUD).exists()
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
        values: dict[str, Any] = {
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
        locked_out = bool(r.locked_out)
        if state is None:
            user = User(tenant=self.tenant, source=Source.SYNCED, on_prem_anchor=r.anchor, **values)
            try:
                with transaction.atomic():
                    user.save()
                    created = SyncedUser.objects.create(
                        user=user,
                        tenant=self.tenant,
                        anchor=r.anchor,
                        last_seen_sync=self.batch.sync_id,
                        locked_out=locked_out,
                    )
            except IntegrityError:
                raise _Refused(
                    "conflict", f"The name {upn} or the anchor is already taken."
                ) from None
            upns[upn] = user.pk
            self.new_objects = True
            self.count("user", user.pk, "created")
            return created
        user = state.user
        changed = [name for name in _USER_FIELDS if getattr(user, name) != values[name]]
        if changed:
            previous = user.upn
            for name in changed:
                setattr(user, name, values[name])
            try:
                with transaction.atomic():
                    user.save(update_fields=changed)
            except IntegrityError:
                raise _Refused("conflict", f"The name {upn} is already taken.") from None
            upns.pop(previous, None)
            upns[upn] = user.pk
        if state.locked_out != locked_out:
            SyncedUser.objects.filter(pk=state.pk).update(locked_out=locked_out)
            state.locked_out = locked_out
            changed.append("locked_out")
        self.count("user", user.pk, "updated" if changed else "unchanged")
        return state

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
            users = (
                dict(
                    SyncedUser.objects.filter(tenant=self.tenant, anchor__in=anchors).values_list(
                        "anchor", "pk"
                    )
                )
                if anchors
                else {}
            )
            groups = (
                dict(
                    SyncedGroup.objects.filter(tenant=self.tenant, anchor__in=anchors).values_list(
                        "anchor", "pk"
                    )
                )
                if anchors
                else {}
            )
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
