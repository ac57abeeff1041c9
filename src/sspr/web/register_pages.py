"""Security info: /t/{tenant}/register, where a signed-in user registers and reviews methods."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential
from sspr.directory.roles import is_admin
from sspr.errors import DomainError
from sspr.flows import registration
from sspr.methods.registry import METHOD_CLASSES, method_for
from sspr.policy.sspr_policy import get_policy
from sspr.web.access_pages import access_context
from sspr.web.pages import signed_in_for_security_info

PENDING = "sspr_pending_method"
SKIPPED = "sspr_registration_skipped"


def _add(request: HttpRequest, credential: Credential) -> dict[str, Any]:
    method = request.POST.get("method", "")
    count = int(request.POST.get("count", "0") or 0)
    answers = [
        {
            "question": request.POST.get(f"question-{i}", ""),
            "answer": request.POST.get(f"answer-{i}", ""),
        }
        for i in range(min(count, 5))
    ]
    item, info = registration.begin(
        credential.user,
        method,
        {"value": request.POST.get("value", ""), "answers": answers},
        session=credential,
    )
    if item.state == item.State.PENDING:
        request.session[PENDING] = {"id": item.pk, "method": method, **info}
        return {}
    return {"notice": _("Your security questions are saved.")}


def _act(request: HttpRequest, credential: Credential) -> dict[str, Any]:
    action = request.POST.get("action")
    if action == "add":
        return _add(request, credential)
    if action == "confirm":
        pending = request.session.get(PENDING) or {}
        registration.confirm(
            credential.user,
            int(pending.get("id", 0)),
            {"code": request.POST.get("code", "")},
            session=credential,
        )
        request.session.pop(PENDING, None)
        return {"notice": _("Your method is registered.")}
    if action == "cancel":
        request.session.pop(PENDING, None)
        return {}
    if action == "remove":
        registration.remove(credential, int(request.POST.get("id", "0") or 0))
        return {"notice": _("The method was removed.")}
    if action == "review":
        registration.review(credential.user)
        return {"notice": _("Thank you: your security info is confirmed.")}
    if action == "skip":
        request.session[SKIPPED] = True
        return {"skip": True}
    return {}


@require_http_methods(["GET", "HEAD", "POST"])
@signed_in_for_security_info
def register_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    outcome: dict[str, Any] = {}
    error = ""
    if request.method == "POST":
        try:
            outcome = _act(request, credential)
        except DomainError as failure:
            error = failure.message
        if outcome.get("skip"):
            return redirect(reverse("account", args=[tenant.slug]))
        if not error:
            return render_register(request, credential, outcome.get("notice", ""), "")
    return render_register(request, credential, "", error, status=400 if error else 200)


def render_register(
    request: HttpRequest, credential: Credential, notice: str, error: str, status: int = 200
) -> HttpResponse:
    user = credential.user
    policy = get_policy(user.tenant)
    admin = is_admin(user.roles)
    offered = [
        name
        for name in policy.methods_enabled
        if name in METHOD_CLASSES and (METHOD_CLASSES[name].for_admins or not admin)
    ]
    questions = method_for("questions", policy)
    mine = registration.registered(user)
    context = {
        "tenant": user.tenant,
        "user": user,
        "methods": [
            {
                "item": m,
                "label": _(METHOD_CLASSES[m.method].label),
                "hint": method_for(m.method, policy).hint(m),
            }
            for m in mine
        ],
        "offered": [
            {"name": n, "label": _(METHOD_CLASSES[n].label), "channel": METHOD_CLASSES[n].channel}
            for n in offered
            if n not in {m.method for m in mine}
        ],
        "pending": request.session.get(PENDING),
        "interruption": registration.interruption(user, policy),
        "questions": getattr(questions, "offered", []),
        "question_slots": list(range(policy.questions_to_register)),
        "question_count": policy.questions_to_register,
        "notice": notice,
        "error": error,
        **access_context(credential),
    }
    return render(request, "sspr/register.html", context, status=status)
