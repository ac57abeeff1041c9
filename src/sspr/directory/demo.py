"""The demo tenant `contoso`: created once, the same every time, for trying the product."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from sspr.directory.groups import create_group
from sspr.directory.models import Tenant, User
from sspr.directory.tenants import create_tenant
from sspr.directory.users import create_user
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import update_policy

SLUG = "contoso"


@dataclass(frozen=True)
class DemoUser:
    upn: str
    password: str
    display_name: str
    roles: tuple[str, ...] = ()
    mobile: str = ""
    must_change: bool = False


# Well-known passwords: this tenant exists to be tried on a laptop, never in production.
DEMO_USERS = (
    DemoUser(
        "admin@contoso.com",
        "Sunrise-Harbor-71",
        "Adele Vance (Global Administrator)",
        ("global-administrator",),
    ),
    DemoUser(
        "helpdesk@contoso.com",
        "Quiet-Meadow-25",
        "Henry Diaz (Helpdesk Administrator)",
        ("helpdesk-administrator",),
    ),
    DemoUser("alice@contoso.com", "Maple-Lantern-38", "Alice Anderson", mobile="+14255550101"),
    DemoUser("bob@contoso.com", "Copper-Falcon-64", "Bob Brown", mobile="+14255550102"),
    DemoUser("carol@contoso.com", "Amber-Willow-19", "Carol Chen", must_change=True),
)


@transaction.atomic
def ensure_demo() -> tuple[Tenant, bool]:
    """The demo tenant, and whether this call created it."""
    existing = Tenant.objects.filter(slug=SLUG).first()
    if existing is not None:
        return existing, False
    tenant = create_tenant(SLUG, "Contoso", "p1", ["contoso.com"])
    for u in DEMO_USERS:
        create_user(
            tenant,
            u.upn,
            password=u.password,
            display_name=u.display_name,
            given_name=u.display_name.split()[0],
            family_name=u.display_name.split()[1],
            mail=u.upn,
            mobile_phone=u.mobile,
            roles=u.roles,
            must_change_password=u.must_change,
            actor="sspr demo",
        )
    create_group(tenant, "All staff", [u.upn for u in DEMO_USERS])
    # Email registered for everyone, so that a reset can be tried at once (codes land in the
    # outbox); the administrators' second gate is theirs to register.
    for user in User.objects.filter(tenant=tenant):
        RegisteredMethod.objects.create(
            user=user,
            method="email",
            value=user.mail,
            state=RegisteredMethod.State.ACTIVE,
            verified_at=timezone.now(),
            confirmed_at=timezone.now(),
        )
    update_policy(tenant, {"enabled_for": "all"}, actor="sspr demo")
    return tenant, True
