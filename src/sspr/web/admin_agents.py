"""The "On-premises agents" admin page: status line, agents, enrolment tokens, sync stats.

Every administrator may look; only Global Administrators create tokens, revoke agents and ask
for a sync. A new token is shown in the answer to the POST that made it and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential
from sspr.directory.roles import Role
from sspr.errors import DomainError
from sspr.hybrid import enrollment, status, sync_state
from sspr.hybrid.models import Agent
from sspr.web.admin_pages import admin_page

NOTICE = "sspr_admin_agents_notice"


def _when(value: datetime | None) -> str:
    return status.when(value) if value is not None else "never"


def _sync_stats(stats: dict[str, Any]) -> dict[str, Any] | None:
    if not stats:
        return None
    started = datetime.fromisoformat(stats["started_at"])
    finished = stats.get("finished_at")
    return {
        **stats,
        "started": status.when(started),
        "finished": status.when(datetime.fromisoformat(finished)) if finished else "",
        "errors_shown": stats.get("error_list", [])[:20],
    }


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD", "POST"])
def agents_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    can_manage = Role.GLOBAL_ADMINISTRATOR in user.roles
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "section": "agents",
        "can_manage": can_manage,
        "error": "",
        "notice": request.session.pop(NOTICE, ""),
        "token": None,
    }
    status_code = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if not can_manage:
            context["error"] = (
                "Only Global Administrators can enrol or revoke agents and ask for a sync."
            )
            status_code = 403
        elif action == "create-token":
            token, row = enrollment.create_token(tenant, user)
            context["token"] = {
                "value": token,
                "expires_at": row.expires_at,
                "command": enrollment.enroll_command(token),
            }
        elif action == "revoke":
            agent = Agent.objects.filter(
                tenant=tenant, pk=request.POST.get("agent", "")[:64]
            ).first()
            if agent is None:
                context["error"], status_code = "There is no such agent.", 404
            else:
                enrollment.revoke(agent, user)
                request.session[NOTICE] = f"The agent {agent.name} was revoked."
                return redirect(reverse("admin-agents", args=[tenant.slug]))
        elif action in ("sync-full", "sync-delta"):
            try:
                sync_state.request_sync(tenant, action.removeprefix("sync-"), user)
            except DomainError as refused:
                context["error"], status_code = refused.message, 400
            else:
                request.session[NOTICE] = (
                    "The sync was requested; a connected agent starts it within seconds."
                )
                return redirect(reverse("admin-agents", args=[tenant.slug]))
        else:
            context["error"], status_code = "Unknown action.", 400
    line = status.status(tenant)
    stats = sync_state.stats(tenant)
    context.update(
        status=line,
        agents=[
            {
                "agent": a,
                "last_seen": _when(a.last_heartbeat_at),
                "last_error_at": _when(a.last_error_at),
            }
            for a in status.agents(tenant)
        ],
        requested=stats["requested"],
        syncs=[
            ("Last full sync", "last-full", _sync_stats(stats["last_full"])),
            ("Last delta sync", "last-delta", _sync_stats(stats["last_delta"])),
        ],
    )
    return render(request, "sspr/admin/agents.html", context, status=status_code)
