"""The "Groups" admin pages: every group with its source and size, and one group's members.

Groups are addressed by id: a name may hold any character, a slash included.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from sspr.directory.models import Credential, Group
from sspr.flows import service_desk
from sspr.web.admin_pages import admin_page
from sspr.web.admin_users import admin_subpage, not_found, page_links, page_of


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def groups_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    page = page_of(service_desk.groups(tenant), request)
    scopes = service_desk.sspr_scopes(tenant)
    return render(
        request,
        "sspr/admin/groups.html",
        {
            "tenant": tenant,
            "user": user,
            "section": "groups",
            "page": page,
            "rows": [(g, scopes.get(g.pk, "")) for g in page.object_list],
            **page_links("admin-groups", [tenant.slug], page),
        },
    )


@admin_subpage
@require_http_methods(["GET", "HEAD"])
def group_page(request: HttpRequest, credential: Credential, group_id: int) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    group = Group.objects.filter(tenant=tenant, pk=group_id).first()
    if group is None:
        return not_found(request, credential, "There is no such group in this organisation.")
    overview = service_desk.group_overview(group)
    members = page_of(overview.members, request)
    return render(
        request,
        "sspr/admin/group.html",
        {
            "tenant": tenant,
            "user": user,
            "section": "groups",
            "o": overview,
            "group": group,
            "members": members,
            **page_links("admin-group", [tenant.slug, group.pk], members),
        },
    )
