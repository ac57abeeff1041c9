"""The read side of a sync, the same for every LDAP directory the agent speaks to.

Users come first, page by page; then groups, each with its member DNs turned into anchors: a DN
seen in this read gives its anchor at once, any other is looked up (in-scope users and groups
only, 50 DNs a search) and remembered, found or not. A DN outside the scope maps to nothing and
is left out of the group. A directory module supplies what differs: its `Schema` (object
classes, the anchor attribute and how it decodes, the attribute a filter can match a DN with, where
a group keeps its members, the default UPN attribute, how a user's account state reads) and how a
group entry gives its member DNs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ldap3 import Connection
from ldap3.utils.conv import escape_filter_chars

from sspr_agent.directory import LdapLink, and_filter, dn_within, norm_dn, text
from sspr_agent.directory.base import Page
from sspr_protocol.messages import GroupRecord, UserRecord

Entry = dict[str, Any]  # a search entry of ldap3: dn, attributes, raw_attributes
_RESOLVE_BATCH = 50
# The UserRecord fields `config.attributes` may map to other LDAP attributes (besides "upn"),
# with the attributes both directories use by default.
CONTACT_ATTRIBUTES = {
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "sn",
    "mail": "mail",
    "mobile_phone": "mobile",
    "office_phone": "telephoneNumber",
}


class Account(NamedTuple):
    """A user's account state, as the directory keeps it."""

    enabled: bool
    locked_out: bool
    password_last_set: float | None  # unix seconds


@dataclass(frozen=True)
class Schema:
    """What one kind of directory calls its users, groups and anchors."""

    user_classes: str  # a filter: the entries that are users...
    group_classes: str  # ...and groups
    anchor: str  # the attribute an entry is anchored on
    anchor_of: Callable[[Entry], str]  # its value in a search entry, decoded ('' when absent)
    dn_attribute: str  # the attribute a filter can find an entry by DN with
    member_attributes: tuple[str, ...]  # where a group lists its members' DNs
    upn: str  # the attribute of UserRecord.upn unless `config.attributes` says otherwise
    account_attributes: tuple[str, ...]  # what `account_of` reads...
    account_of: Callable[[dict[str, Any]], Account]  # ...of a user entry's attributes


class SyncReader:
    """Full and delta reads of the users and groups in scope (`config.base_dn` and filters).

    `member_dns` gives a group entry's member DNs; it may search (over the service connection,
    never over the read's own, whose paged search a search in between would end).
    """

    def __init__(
        self, link: LdapLink, schema: Schema, *, member_dns: Callable[[Entry], list[str]]
    ) -> None:
        self.link = link
        self.config = link.config
        self.schema = schema
        self.member_dns = member_dns
        self.names = {"upn": schema.upn, **CONTACT_ATTRIBUTES, **self.config.attributes}
        self.user_attributes = sorted(
            {schema.anchor, "cn", *schema.account_attributes, *self.names.values()}
        )

    def user_filter(self, *extra: str) -> str:
        return and_filter(self.schema.user_classes, self.config.user_filter, *extra)

    def group_filter(self, *extra: str) -> str:
        return and_filter(self.schema.group_classes, self.config.group_filter, *extra)

    def pages(self, page_size: int, since: str = "") -> Iterator[Page]:
        """Everything in scope, or what the filter `since` selects of it, on a connection of its
        own."""
        with self.link.reader() as conn:
            yield from self.read(conn, page_size, since)

    def read(self, conn: Connection, page_size: int, since: str = "") -> Iterator[Page]:
        """As `pages`, on `conn` (which stays open for more after)."""
        anchors: dict[str, str] = {}  # normalised DN → anchor ("" = looked up, not in scope)
        base = self.config.base_dn
        for entries in self.link.paged_search(
            conn, base, self.user_filter(since), self.user_attributes, page_size
        ):
            users = [u for u in (self._user(e) for e in entries) if u is not None]
            for user in users:
                anchors[norm_dn(user.dn)] = user.anchor
            if users:
                yield Page(users=users, groups=[], deleted_anchors=[])
        group_attributes = [self.schema.anchor, "cn", *self.schema.member_attributes]
        for entries in self.link.paged_search(
            conn, base, self.group_filter(since), group_attributes, page_size
        ):
            groups = [g for g in (self._group(e, anchors) for e in entries) if g is not None]
            if groups:
                yield Page(users=[], groups=groups, deleted_anchors=[])

    def _user(self, entry: Entry) -> UserRecord | None:
        anchor = self.schema.anchor_of(entry)
        if not anchor:
            return None
        attributes = entry.get("attributes") or {}
        name = self.names
        account = self.schema.account_of(attributes)
        return UserRecord(
            anchor=anchor,
            dn=entry["dn"],
            upn=text(attributes, name["upn"]),
            display_name=text(attributes, name["display_name"]) or text(attributes, "cn"),
            given_name=text(attributes, name["given_name"]),
            family_name=text(attributes, name["family_name"]),
            mail=text(attributes, name["mail"]),
            mobile_phone=text(attributes, name["mobile_phone"]),
            office_phone=text(attributes, name["office_phone"]),
            enabled=account.enabled,
            locked_out=account.locked_out,
            password_last_set=account.password_last_set,
        )

    def _group(self, entry: Entry, anchors: dict[str, str]) -> GroupRecord | None:
        anchor = self.schema.anchor_of(entry)
        if not anchor:
            return None
        anchors[norm_dn(entry["dn"])] = anchor
        members = self.member_dns(entry)
        # On another connection: a search in the middle of a paged search would end it.
        self.link.with_service(functools.partial(self._resolve, dns=members, anchors=anchors))
        return GroupRecord(
            anchor=anchor,
            dn=entry["dn"],
            name=text(entry.get("attributes") or {}, "cn"),
            member_anchors=list(
                dict.fromkeys(a for a in (anchors.get(norm_dn(m)) for m in members) if a)
            ),
        )

    def _resolve(self, conn: Connection, dns: list[str], anchors: dict[str, str]) -> None:
        """Find the anchors of member DNs not seen yet (in-scope users and groups only)."""
        unknown = list(dict.fromkeys(d for d in dns if norm_dn(d) not in anchors))
        scope = f"(|{self.user_filter()}{self.group_filter()})"
        for start in range(0, len(unknown), _RESOLVE_BATCH):
            batch = unknown[start : start + _RESOLVE_BATCH]
            for dn in batch:
                anchors[norm_dn(dn)] = ""
            in_base = [dn for dn in batch if dn_within(dn, self.config.base_dn)]
            if not in_base:
                continue
            by_dn = "".join(
                f"({self.schema.dn_attribute}={escape_filter_chars(d)})" for d in in_base
            )
            for entries in self.link.paged_search(
                conn,
                self.config.base_dn,
                and_filter(scope, f"(|{by_dn})"),
                [self.schema.anchor],
                1000,
            ):
                for entry in entries:
                    anchor = self.schema.anchor_of(entry)
                    if anchor:
                        anchors[norm_dn(entry["dn"])] = anchor
