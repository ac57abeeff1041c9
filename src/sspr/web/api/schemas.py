"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, model_validator

from sspr.directory.models import User


def _without_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text (the query fails), SQLite would store it silently.
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


# Text that is stored or looked up in the database.
Text = Annotated[str, AfterValidator(_without_nul)]


class Error(Schema):
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="What went wrong, in words a person understands.")


class RuleViolation(Schema):
    code: str
    message: str


class PasswordError(Error):
    rules: list[RuleViolation] = []


class Health(Schema):
    status: str
    version: str
    database: str


class SessionIn(Schema):
    username: Text = Field(min_length=1, max_length=256)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    temporary_access_pass: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Instead of the password: a session that may only register methods.",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> SessionIn:
        if (self.password is None) == (self.temporary_access_pass is None):
            raise ValueError("send either password or temporary_access_pass")
        return self


class UserOut(Schema):
    upn: str
    display_name: str
    given_name: str
    family_name: str
    mail: str
    mobile_phone: str
    office_phone: str
    enabled: bool
    source: str
    must_change_password: bool
    password_last_set: datetime | None
    roles: list[str]

    @staticmethod
    def of(user: User) -> dict[str, Any]:
        return {
            "upn": user.upn,
            "display_name": user.display_name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "mail": user.mail,
            "mobile_phone": user.mobile_phone,
            "office_phone": user.office_phone,
            "enabled": user.enabled,
            "source": user.source,
            "must_change_password": user.must_change_password,
            "password_last_set": user.password_last_set,
            "roles": [r.value for r in user.roles],
        }


class SessionOut(Schema):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    must_change_password: bool
    tenant: str
    user: UserOut


class PasswordChangeIn(Schema):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class Message(Schema):
    message: str


class UserCreateIn(Schema):
    upn: Text = Field(min_length=3, max_length=113)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    display_name: Text = Field(default="", max_length=256)
    given_name: Text = Field(default="", max_length=64)
    family_name: Text = Field(default="", max_length=64)
    mail: Text = Field(default="", max_length=254)
    mobile_phone: Text = Field(default="", max_length=32)
    office_phone: Text = Field(default="", max_length=32)
    roles: list[Text] = Field(default=[], max_length=8)
    must_change_password: bool = True


class UserList(Schema):
    count: int
    items: list[UserOut]
