"""Creating users and giving them roles."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from sspr.audit.events import Activity, record
from sspr.directory.identifiers import validate_upn
from sspr.directory.models import RoleAssignment, Tenant, User
from sspr.directory.passwords import hash_password
from sspr.directory.roles import Role
from sspr.errors import Conflict, InvalidValue
from sspr.policy.passwords import check_new_password


def parse_roles(values: Iterable[str]) -> list[Role]:
    roles = []
    for value in values:
        try:
            roles.append(Role(value))
        except ValueError:
            names = ", ".join(r.value for r in Role)
            raise InvalidValue(
                f"Unknown role '{value}'; choose among {names}.", field="roles"
            ) from None
    return roles


_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{3,30}$")


def _check_contact(mail: str, mobile_phone: str, office_phone: str) -> None:
    if mail:
        try:
            validate_email(mail)
        except ValidationError:
            raise InvalidValue(f"'{mail[:254]}' is not an email address.", field="mail") from None
    for field, phone in (("mobile_phone", mobile_phone), ("office_phone", office_phone)):
        if phone and not _PHONE.match(phone):
            raise InvalidValue(
                "A phone number has digits, optionally a leading + and spaces, e.g. "
                "+1 425 555 0100.",
                field=field,
            )


@transaction.atomic
def create_user(
    tenant: Tenant,
    upn: str,
    *,
    password: str | None = None,
    display_name: str = "",
    given_name: str = "",
    family_name: str = "",
    mail: str = "",
    mobile_phone: str = "",
    office_phone: str = "",
    roles: Iterable[str] = (),
    must_change_password: bool = False,
    actor: User | str | None = None,
) -> User:
    upn = validate_upn(upn)
    role_list = parse_roles(roles)
    _check_contact(mail.strip(), mobile_phone.strip(), office_phone.strip())
    user = User(
        tenant=tenant,
        upn=upn,
        display_name=display_name or upn.split("@")[0],
        given_name=given_name,
        family_name=family_name,
        mail=mail.strip().lower(),
        mobile_phone=mobile_phone.strip(),
        office_phone=office_phone.strip(),
        must_change_password=must_change_password,
    )
    if password is not None:
        check_new_password(tenant, user, password, entry="temporary_password")
        user.password_hash = hash_password(password)
        user.password_last_set = timezone.now()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"A user called {upn} already exists in this organisation.") from None
    record(tenant, Activity.ADD_USER, actor=actor, target=user)
    for role in role_list:
        RoleAssignment.objects.create(user=user, role=role.value)
        record(tenant, Activity.ADD_MEMBER_TO_ROLE, actor=actor, target=user, role=role.value)
    return user
