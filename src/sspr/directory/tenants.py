"""Creating and finding tenants."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sspr.audit.events import Activity, record
from sspr.directory.identifiers import validate_slug
from sspr.directory.models import Tenant
from sspr.directory.plans import Plan
from sspr.errors import Conflict, InvalidValue, NotFound


def get_tenant(slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug.lower())
    except Tenant.DoesNotExist:
        raise NotFound(
            _("There is no organisation called '%(slug)s'.") % {"slug": slug[:63]}
        ) from None


def parse_plan(value: str) -> Plan:
    try:
        return Plan(value)
    except ValueError:
        names = ", ".join(p.value for p in Plan)
        raise InvalidValue(
            f"Unknown plan '{value}'; choose one of {names}.", field="plan"
        ) from None


@transaction.atomic
def create_tenant(slug: str, name: str, plan: str, domains: list[str] | None = None) -> Tenant:
    slug = validate_slug(slug)
    if not name.strip():
        raise InvalidValue("A tenant needs a display name.", field="name")
    tenant = Tenant(
        slug=slug,
        name=name.strip(),
        plan=parse_plan(plan).value,
        domains=sorted({d.lower() for d in domains or []}),
    )
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError:
        raise Conflict(f"A tenant called '{slug}' already exists.") from None
    record(tenant, Activity.CREATE_TENANT, target=slug, plan=tenant.plan)
    return tenant
