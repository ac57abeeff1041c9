"""The reset portal: /t/{tenant}/reset. The flow's id lives in the session, never in a URL."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Tenant
from sspr.errors import DomainError
from sspr.flows import reset, writeback
from sspr.flows.models import ResetFlow
from sspr.methods.registry import METHOD_CLASSES
from sspr.policy.passwords import PasswordRejected, rules_for
from sspr.policy.sspr_policy import get_policy
from sspr.web.forms import NewPasswordForm, ResetStartForm
from sspr.web.pages import feedback_url, with_tenant

FLOW = "sspr_reset_flow"
ASKED = "sspr_reset_asked"


def _context(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    return {"tenant": tenant, "helpdesk": get_policy(tenant).helpdesk_url, **extra}


def _current_flow(request: HttpRequest, tenant: Tenant) -> ResetFlow | None:
    try:
        flow = reset.get_flow(request.session.get(FLOW, ""))
    except DomainError:
        return None
    return flow if flow.tenant_id == tenant.pk else None


def _labels() -> dict[str, str]:
    return {name: _(cls.label) for name, cls in METHOD_CLASSES.items()}


@require_http_methods(["GET", "HEAD", "POST"])
@with_tenant
def start_page(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    policy = get_policy(tenant)
    form = ResetStartForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            flow = reset.start(
                tenant, form.cleaned_data["username"], request.POST.get("captcha") or None
            )
        except DomainError as failure:
            error = failure.message
        else:
            request.session.cycle_key()
            request.session[FLOW] = flow.id
            request.session.pop(ASKED, None)
            return redirect(reverse("reset-verify", args=[tenant.slug]))
    return render(
        request,
        "sspr/reset/start.html",
        _context(tenant, form=form, error=error, captcha=policy.captcha_enabled),
        status=400 if error or form.errors else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@with_tenant
def verify_page(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    flow = _current_flow(request, tenant)
    if flow is None:
        return redirect(reverse("reset", args=[tenant.slug]))
    if flow.state == ResetFlow.State.VERIFIED:
        return redirect(reverse("reset-password", args=[tenant.slug]))
    asked: dict[str, Any] = request.session.get(ASKED) or {}
    error, blocked = "", False
    if request.method == "POST":
        method = request.POST.get("method", "")
        try:
            if request.POST.get("action") == "verify" and asked.get("method") == method:
                answers = [
                    {"question": q, "answer": request.POST.get(f"answer-{i}", "")}
                    for i, q in enumerate(asked.get("questions") or [])
                ]
                flow = reset.verify(
                    flow.id, method, {"code": request.POST.get("code", ""), "answers": answers}
                )
                request.session.pop(ASKED, None)
                if flow.state == ResetFlow.State.VERIFIED:
                    return redirect(reverse("reset-password", args=[tenant.slug]))
                return redirect(reverse("reset-verify", args=[tenant.slug]))
            if request.POST.get("action") != "challenge":
                # A stale or repeated form: never send a new code the user did not ask for.
                return redirect(reverse("reset-verify", args=[tenant.slug]))
            asked = reset.challenge(flow.id, method)
            request.session[ASKED] = asked
            return redirect(reverse("reset-verify", args=[tenant.slug]))
        except reset.VerificationFailed as failure:
            error = failure.message
            if asked.get("questions"):  # a wrong answer means a fresh draw
                request.session.pop(ASKED, None)
                asked = {}
        except DomainError as failure:
            error, blocked = failure.message, failure.status == 429
    remaining = [m for m in flow.methods if m["method"] not in flow.gates_passed]
    return render(
        request,
        "sspr/reset/verify.html",
        _context(
            tenant,
            flow=flow,
            step=len(flow.gates_passed) + 1,
            methods=remaining,
            asked=asked,
            labels=_labels(),
            error=error,
            blocked=blocked,
        ),
        status=429 if blocked else 400 if error else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@with_tenant
def new_password_page(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    flow = _current_flow(request, tenant)
    if flow is None or flow.state != ResetFlow.State.VERIFIED:
        return redirect(reverse("reset", args=[tenant.slug]))
    form = NewPasswordForm(
        request.POST or None, feedback_url=feedback_url(tenant), username=flow.username
    )
    violations: list[Any] = []
    error = ""
    unlockable = (
        flow.user is not None
        and writeback.is_synced(flow.user)
        and get_policy(tenant).unlock_enabled
    )
    if request.method == "POST" and request.POST.get("action") == "unlock" and unlockable:
        try:
            reset.complete(flow.id, None, "unlock")
        except DomainError as failure:
            error = failure.message
        else:
            request.session.flush()
            return render(request, "sspr/reset/done.html", _context(tenant, unlocked=True))
    elif request.method == "POST" and form.is_valid():
        try:
            reset.complete(flow.id, form.cleaned_data["new_password"])
        except PasswordRejected as rejected:
            violations, error = rejected.violations, _("Your new password does not meet the rules.")
        except DomainError as failure:
            error = failure.message
        else:
            request.session.flush()  # no automatic sign-in after a reset
            return render(request, "sspr/reset/done.html", _context(tenant))
    return render(
        request,
        "sspr/reset/new_password.html",
        _context(
            tenant,
            form=form,
            violations=violations,
            error=error,
            rules_help=[rule.describe() for rule in rules_for(tenant)],
            unlockable=unlockable,
        ),
        status=400 if error or form.errors else 200,
    )
