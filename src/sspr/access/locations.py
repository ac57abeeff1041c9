"""Named locations: a tenant's IP ranges (IPv4 and IPv6 CIDR), marked trusted or not."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from sspr.access.models import AccessPolicy, NamedLocation
from sspr.access.policies import Location
from sspr.audit.events import Activity, record
from sspr.directory.models import Tenant, User
from sspr.errors import Conflict, InvalidValue, NotFound
from sspr.policy.values import boolean, listing

MAX_RANGES = 2000
MAX_LOCATIONS = 195
MAX_NAME = 200
# Shorter prefixes cover a sixteenth of the whole address space or more: never one place.
SHORTEST_PREFIX = {4: 8, 6: 16}


class InvalidRange(InvalidValue):
    code = "invalid_ip_range"


class RangeTooBroad(InvalidValue):
    code = "ip_range_too_broad"


class LocationNameTaken(Conflict):
    code = "location_name_taken"


class UnknownLocation(NotFound):
    code = "unknown_location"


def parse_range(text: str) -> str:
    """One range in canonical CIDR form; an address alone is its own /32 or /128."""
    cleaned = str(text).strip()
    try:
        network = ipaddress.ip_network(cleaned, strict=False)
    except ValueError:
        raise InvalidRange(
            f"'{cleaned[:64]}' is not an IPv4 or IPv6 range: write it as CIDR, e.g. "
            "203.0.113.0/24 or 2001:db8::/48.",
            field="ranges",
        ) from None
    if network.prefixlen < SHORTEST_PREFIX[network.version]:
        raise RangeTooBroad(
            f"'{cleaned[:64]}' is too broad for one location: IPv{network.version} ranges are "
            f"/{SHORTEST_PREFIX[network.version]} or narrower.",
            field="ranges",
        )
    return str(network)


def parse_ranges(values: Any) -> list[str]:
    ranges = listing(values)
    if not ranges:
        raise InvalidRange("A named location needs at least one IP range.", field="ranges")
    if len(ranges) > MAX_RANGES:
        raise InvalidValue(f"A named location holds at most {MAX_RANGES} ranges.", field="ranges")
    return list(dict.fromkeys(parse_range(r) for r in ranges))


def _name(value: Any) -> str:
    name = str(value).strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidValue(f"A name has 1 to {MAX_NAME} characters.", field="name")
    return name


def list_locations(tenant: Tenant) -> list[NamedLocation]:
    return list(NamedLocation.objects.filter(tenant=tenant).order_by("name"))


def get_location(tenant: Tenant, key: str | int) -> NamedLocation:
    """By id or by name, within the tenant."""
    text = str(key).strip()[:MAX_NAME]
    found = NamedLocation.objects.filter(tenant=tenant, name=text).first()
    if found is None and text.isdigit() and len(text) < 19:
        found = NamedLocation.objects.filter(tenant=tenant, pk=int(text)).first()
    if found is None:
        raise UnknownLocation(f"There is no named location '{text}' in this organisation.")
    return found


def as_dict(location: NamedLocation) -> dict[str, Any]:
    return {
        "id": location.pk,
        "name": location.name,
        "ranges": list(location.ranges),
        "trusted": location.trusted,
        "created_at": location.created_at,
        "updated_at": location.updated_at,
    }


def _save(location: NamedLocation) -> None:
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        raise LocationNameTaken(
            f"A named location called '{location.name}' already exists."
        ) from None


@transaction.atomic
def create_location(
    tenant: Tenant,
    name: str,
    ranges: Iterable[str] | str,
    trusted: Any = False,
    actor: User | str = "",
) -> NamedLocation:
    if NamedLocation.objects.filter(tenant=tenant).count() >= MAX_LOCATIONS:
        raise InvalidValue(f"An organisation has at most {MAX_LOCATIONS} named locations.")
    location = NamedLocation(
        tenant=tenant,
        name=_name(name),
        ranges=parse_ranges(ranges),
        trusted=boolean("trusted", trusted),
    )
    _save(location)
    record(
        tenant,
        Activity.ADD_NAMED_LOCATION,
        actor=actor,
        target=location.name,
        ranges=location.ranges,
        trusted=location.trusted,
    )
    return location


@transaction.atomic
def update_location(
    tenant: Tenant, key: str | int, changes: dict[str, Any], actor: User | str = ""
) -> NamedLocation:
    """Change any of name, ranges, trusted; unknown keys are refused."""
    location = get_location(tenant, key)
    unknown = set(changes) - {"name", "ranges", "trusted"}
    if unknown:
        raise InvalidValue(
            f"Unknown setting {sorted(unknown)[0][:40]!r}: the settings are name, ranges, trusted.",
            field=sorted(unknown)[0][:40],
        )
    before = as_dict(location)
    if "name" in changes:
        location.name = _name(changes["name"])
    if "ranges" in changes:
        location.ranges = parse_ranges(changes["ranges"])
    if "trusted" in changes:
        location.trusted = boolean("trusted", changes["trusted"])
    location.updated_at = timezone.now()
    _save(location)
    after = as_dict(location)
    record(
        tenant,
        Activity.UPDATE_NAMED_LOCATION,
        actor=actor,
        target=location.name,
        changed={
            k: {"from": before[k], "to": after[k]}
            for k in ("name", "ranges", "trusted")
            if before[k] != after[k]
        },
    )
    return location


@transaction.atomic
def delete_location(tenant: Tenant, key: str | int, actor: User | str = "") -> None:
    """Delete a location. One that a policy names for its selected locations is kept."""
    location = get_location(tenant, key)
    using = AccessPolicy.objects.filter(tenant=tenant, locations=location)
    users = list(using.values_list("name", flat=True))
    if users:
        raise Conflict(
            f"The policy '{users[0]}' uses this location: take it out of the policy first.",
            policies=users,
        )
    record(tenant, Activity.DELETE_NAMED_LOCATION, actor=actor, target=location.name)
    location.delete()


def engine_locations(tenant: Tenant) -> list[Location]:
    return [
        Location(
            loc.pk,
            loc.name,
            tuple(ipaddress.ip_network(r) for r in loc.ranges),
            loc.trusted,
        )
        for loc in NamedLocation.objects.filter(tenant=tenant)
    ]
