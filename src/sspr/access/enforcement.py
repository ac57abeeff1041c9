"""Conditional access where it bites: evaluate the tenant's policies for a signed-in session
and an action, refuse what they refuse, and say what was decided for the audit event.

The address is the request's client address (`sspr.audit.context`, set by the web layer from
the socket or a trusted proxy's `X-Forwarded-For`); the domain never reads a header itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from sspr.access import step_up
from sspr.access.access_policies import list_policies, rule_of
from sspr.access.locations import engine_locations
from sspr.access.models import Action
from sspr.access.policies import BLOCK, REQUIRE_METHOD, Evaluation, Subject, evaluate
from sspr.audit import context
from sspr.audit.events import failure
from sspr.directory.groups import groups_of
from sspr.directory.models import Credential, User
from sspr.errors import DomainError
from sspr.flows.blocking import helpdesk_of

REGISTER = Action.REGISTER_SECURITY_INFO.value
ADMIN_SIGN_IN = Action.ADMIN_SIGN_IN.value


class AccessBlocked(DomainError):
    status = 403
    code = "access_blocked"

    def __init__(self, action: str, helpdesk: str) -> None:
        if action == ADMIN_SIGN_IN:
            text = _(
                "Your organisation does not allow signing in to the admin portal from where you "
                "are now."
            )
        else:
            text = _(
                "Your organisation does not allow adding or changing security info from where "
                "you are now."
            )
        more = (
            _("Contact your helpdesk: %(helpdesk)s.") % {"helpdesk": helpdesk}
            if helpdesk
            else _("Contact your helpdesk.")
        )
        super().__init__(f"{text} {more}", helpdesk=helpdesk)


class StepUpRequired(DomainError):
    status = 403
    code = "step_up_required"

    def __init__(self, methods: list[str]) -> None:
        super().__init__(
            _(
                "First prove that it is you, with a method you already registered or with a "
                "Temporary Access Pass from your helpdesk."
            ),
            methods=methods,
        )


def subject_of(user: User) -> Subject:
    return Subject(user.pk, frozenset(groups_of(user)), frozenset(r.value for r in user.roles))


def evaluate_for(user: User, action: str, address: str | None = None) -> Evaluation:
    """The tenant's policies for `action`, for `user` at `address` (the request's by default)."""
    rules = [rule_of(p) for p in list_policies(user.tenant, action)]
    where = context.current().ip if address is None else address
    return evaluate(rules, subject_of(user), where, action, engine_locations(user.tenant))


def audit_details(evaluation: Evaluation, proof: str = "") -> dict[str, Any]:
    """What the audit event of the action carries: every policy evaluated, its result (report-
    only ones marked), the client address, and the proof that satisfied require_method."""
    return {**evaluation.as_dict(), **({"proven_by": proof} if proof else {})}


@dataclass(frozen=True)
class Access:
    """Where a session stands for an action: for pages to show before the user tries."""

    action: str
    evaluation: Evaluation
    proven_by: str
    proven_until: datetime | None
    options: list[step_up.Option]
    helpdesk: str

    @property
    def decision(self) -> str:
        return self.evaluation.decision

    @property
    def blocked(self) -> bool:
        return self.decision == BLOCK

    @property
    def needs_proof(self) -> bool:
        """require_method, and the session has not proven a method (or a pass) yet."""
        return self.decision == REQUIRE_METHOD and not self.proven_by

    @property
    def allowed(self) -> bool:
        return not self.blocked and not self.needs_proof

    @property
    def needs_pass(self) -> bool:
        """Proof is needed and no registered method can give it: only a pass will do."""
        return self.needs_proof and not self.options


def access(credential: Credential, action: str = REGISTER) -> Access:
    """Evaluate without recording anything: what a page shows before the user acts."""
    user = credential.user
    proof = step_up.proof(credential)
    return Access(
        action=action,
        evaluation=evaluate_for(user, action),
        proven_by=proof.via if proof else "",
        proven_until=proof.expires_at if proof else None,
        options=step_up.options(user),
        helpdesk=helpdesk_of(user.tenant),
    )


def enforce(credential: Credential, action: str, activity: str) -> dict[str, Any]:
    """Evaluate for the session and refuse what the policies refuse, recording the refusal as
    a failed `activity`. Returns the audit details for the event of the allowed action."""
    state = access(credential, action)
    user = credential.user
    details = audit_details(state.evaluation, state.proven_by)
    refusal: DomainError | None = None
    if state.blocked:
        reason = "Blocked by conditional access"
        refusal = AccessBlocked(action, state.helpdesk)
    elif state.needs_proof:
        reason = "Conditional access requires an already-registered method"
        refusal = StepUpRequired([o.method for o in state.options])
    if refusal is not None:
        with transaction.atomic():
            failure(
                user.tenant, activity, reason, actor=user, target=user, conditional_access=details
            )
        raise refusal
    return details
