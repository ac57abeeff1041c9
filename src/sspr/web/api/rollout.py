"""Rollout materials: read an email as HTML or text, and send one to a group.

Any administrator may read them; only Global Administrators and Authentication Policy
Administrators may send.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from sspr.rollout import materials, sending
from sspr.web.api.auth import bearer
from sspr.web.api.schemas import Error, Text
from sspr.web.api.users import acting_admin

router = Router(tags=["rollout"], auth=bearer)

Template = Literal["announcement", "reminder"]
Language = Literal["en", "de", "fr", "es"]

# An email read through the API is a document, not a page of this site: no script, no request
# anywhere, and not to be framed; its inline styles are what mail programs need.
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; sandbox"
)


class MaterialIn(Schema):
    format: Literal["html", "text"] = Field(default="html", description="html or text")
    language: Language = Field(default="en")


class SendIn(Schema):
    template: Template
    group: Text = Field(
        default="",
        max_length=256,
        description="Group name; its nested groups' members count too. Required for the "
        "announcement; for the reminder, empty means every user in scope.",
    )
    language: Language = Field(default="en")


class SendOut(Schema):
    template: str
    group: str
    recipients: int = Field(description="Users the send was meant for.")
    sent: int = Field(description="Messages handed to the mail server (or kept in the outbox).")
    failed: int = Field(description="Messages the mail server refused or could not take.")


@router.post(
    "/tenants/{tenant}/rollout/sends",
    response={202: SendOut, 401: Error, 403: Error, 404: Error, 422: Error},
)
def send_material(request: HttpRequest, tenant: Text, body: SendIn) -> Status[Any]:
    """Send the announcement to a group's members, or the reminder to those who have not
    registered enough methods: one message per user, to their notification address, audited
    (Global and Authentication Policy Administrators only)."""
    scope, actor = acting_admin(request, tenant)
    result = sending.send(scope, body.template, body.group, actor, language=body.language)
    return Status(
        202,
        {
            "template": result.template,
            "group": result.group,
            "recipients": result.recipients,
            "sent": result.sent,
            "failed": result.failed,
        },
    )


# After the sends route: /rollout/{template} would otherwise take /rollout/sends and refuse
# its POST.
@router.get(
    "/tenants/{tenant}/rollout/{template}",
    response={401: Error, 403: Error, 404: Error, 422: Error},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The email, as HTML or as plain text; its subject in the "
                "X-Subject header (UTF-8, percent-encoded).",
                "content": {"text/html": {}, "text/plain": {}},
            }
        }
    },
)
def read_material(
    request: HttpRequest, tenant: Text, template: Template, options: Query[MaterialIn]
) -> HttpResponse:
    """The announcement or reminder email, written from the organisation's settings (any
    administrator)."""
    scope, _ = acting_admin(request, tenant)
    email = materials.render_email(template, scope, language=options.language)
    if options.format == "text":
        response = HttpResponse(email.text, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(email.html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = DOCUMENT_POLICY
    response["Content-Language"] = options.language
    response["X-Subject"] = quote(email.subject, safe=" ,:;!?'()")
    return response
