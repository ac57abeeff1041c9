"""The "Named locations" admin pages: the tenant's IP ranges, marked trusted or not.

Every administrator may look; Global and Authentication Policy Administrators create, change
and delete (`sspr.access.locations` checks the ranges and audits each change).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from sspr.access import locations
from sspr.access.models import NamedLocation
from sspr.directory.models import Credential
from sspr.directory.roles import can_manage_policy
from sspr.web.admin_forms import Editable, SettingsForm, edit_page, split_lines
from sspr.web.admin_pages import admin_page
from sspr.web.admin_users import admin_subpage, not_found

NOTICE = "sspr_admin_locations_notice"
SECTION = "locations"


class LocationForm(SettingsForm):
    name = forms.CharField(label="Name", max_length=200)
    ranges = forms.CharField(
        label="IP ranges, one per line",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40, "aria-describedby": "ranges-help"}),
    )
    trusted = forms.BooleanField(label="Mark as trusted location", required=False)

    @staticmethod
    def initial_from(location: NamedLocation | None) -> dict[str, Any]:
        if location is None:
            return {}
        return {
            "name": location.name,
            "ranges": "\n".join(location.ranges),
            "trusted": location.trusted,
        }

    def settings(self) -> dict[str, Any]:
        return {**self.cleaned_data, "ranges": split_lines(self.cleaned_data["ranges"])}


LOCATION = Editable(
    noun="named location",
    key="location",
    template="sspr/admin/location.html",
    section=SECTION,
    back="admin-locations",
    notice=NOTICE,
    form=LocationForm,
    initial=LocationForm.initial_from,
    create=lambda tenant, settings, actor: locations.create_location(
        tenant, actor=actor, **settings
    ),
    update=lambda tenant, pk, settings, actor: locations.update_location(
        tenant, pk, settings, actor=actor
    ),
    delete=lambda tenant, pk, actor: locations.delete_location(tenant, pk, actor=actor),
    read_only=(
        "Only Global Administrators and Authentication Policy Administrators can change named "
        "locations."
    ),
)


@admin_page  # first: to anyone else every method is refused alike
@require_http_methods(["GET", "HEAD"])
def locations_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    return render(
        request,
        "sspr/admin/locations.html",
        {
            "tenant": user.tenant,
            "user": user,
            "section": SECTION,
            "can_manage": can_manage_policy(user.roles),
            "locations": locations.list_locations(user.tenant),
            "notice": request.session.pop(NOTICE, ""),
        },
    )


@admin_subpage
@require_http_methods(["GET", "HEAD", "POST"])
def location_page(
    request: HttpRequest, credential: Credential, location_id: int | None = None
) -> HttpResponse:
    """A new location (no id) or one location: change it, or delete it."""
    location = None
    if location_id is not None:
        location = NamedLocation.objects.filter(
            tenant=credential.user.tenant, pk=location_id
        ).first()
        if location is None:
            return not_found(request, credential, "There is no such named location here.")
    return edit_page(request, credential, LOCATION, location)
