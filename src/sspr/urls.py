from django.urls import path
from django.views.i18n import set_language

from sspr.web import (
    access_pages,
    admin_access,
    admin_agents,
    admin_audit,
    admin_groups,
    admin_insights,
    admin_locations,
    admin_pages,
    admin_passes,
    admin_protection,
    admin_rollout,
    admin_users,
    pages,
    register_pages,
    reset_pages,
)
from sspr.web.api.app import api

handler400 = "sspr.web.errors.bad_request"
handler403 = "sspr.web.errors.permission_denied"
handler404 = "sspr.web.errors.not_found"
handler500 = "sspr.web.errors.server_error"

urlpatterns = [
    path("api/v1/", api.urls),
    path("language", set_language, name="set-language"),
    path("t/<slug:tenant>/", pages.tenant_home, name="tenant-home"),
    path("t/<slug:tenant>/sign-in", pages.sign_in_page, name="sign-in"),
    path(
        "t/<slug:tenant>/sign-in/temporary-access-pass",
        access_pages.pass_sign_in_page,
        name="pass-sign-in",
    ),
    path(
        "t/<slug:tenant>/verify-identity",
        access_pages.verify_identity_page,
        name="verify-identity",
    ),
    path("t/<slug:tenant>/sign-out", pages.sign_out_page, name="sign-out"),
    path("t/<slug:tenant>/account", pages.account_page, name="account"),
    path("t/<slug:tenant>/change", pages.change_page, name="change"),
    path("t/<slug:tenant>/admin/", admin_pages.admin_home, name="admin-home"),
    path("t/<slug:tenant>/admin/password-reset", admin_pages.policy_page, name="admin-policy"),
    path(
        "t/<slug:tenant>/admin/password-protection",
        admin_protection.protection_page,
        name="admin-protection",
    ),
    path("t/<slug:tenant>/admin/agents", admin_agents.agents_page, name="admin-agents"),
    path("t/<slug:tenant>/admin/users/", admin_users.users_page, name="admin-users"),
    path("t/<slug:tenant>/admin/users/<str:upn>", admin_users.user_page, name="admin-user"),
    path(
        "t/<slug:tenant>/admin/users/<str:upn>/temporary-access-passes",
        admin_passes.passes_page,
        name="admin-user-passes",
    ),
    path(
        "t/<slug:tenant>/admin/conditional-access/",
        admin_access.policies_page,
        name="admin-access-policies",
    ),
    path(
        "t/<slug:tenant>/admin/conditional-access/new",
        admin_access.policy_page,
        name="admin-access-policy-new",
    ),
    path(
        "t/<slug:tenant>/admin/conditional-access/<int:policy_id>",
        admin_access.policy_page,
        name="admin-access-policy",
    ),
    path(
        "t/<slug:tenant>/admin/conditional-access/what-if",
        admin_access.what_if_page,
        name="admin-what-if",
    ),
    path(
        "t/<slug:tenant>/admin/named-locations/",
        admin_locations.locations_page,
        name="admin-locations",
    ),
    path(
        "t/<slug:tenant>/admin/named-locations/new",
        admin_locations.location_page,
        name="admin-location-new",
    ),
    path(
        "t/<slug:tenant>/admin/named-locations/<int:location_id>",
        admin_locations.location_page,
        name="admin-location",
    ),
    path("t/<slug:tenant>/admin/groups/", admin_groups.groups_page, name="admin-groups"),
    path(
        "t/<slug:tenant>/admin/groups/<int:group_id>", admin_groups.group_page, name="admin-group"
    ),
    path("t/<slug:tenant>/admin/audit/", admin_audit.audit_page, name="admin-audit"),
    path("t/<slug:tenant>/admin/audit/export", admin_audit.audit_export, name="admin-audit-export"),
    path("t/<slug:tenant>/admin/insights", admin_insights.insights_page, name="admin-insights"),
    path(
        "t/<slug:tenant>/admin/recommendations",
        admin_insights.recommendations_page,
        name="admin-recommendations",
    ),
    path("t/<slug:tenant>/admin/rollout", admin_rollout.rollout_page, name="admin-rollout"),
    path(
        "t/<slug:tenant>/admin/rollout/poster",
        admin_rollout.rollout_poster,
        name="admin-rollout-poster",
    ),
    path(
        "t/<slug:tenant>/admin/rollout/<slug:material>/preview",
        admin_rollout.rollout_preview,
        name="admin-rollout-preview",
    ),
    path(
        "t/<slug:tenant>/admin/rollout/<slug:material>.<slug:fmt>",
        admin_rollout.rollout_download,
        name="admin-rollout-download",
    ),
    path("t/<slug:tenant>/reset", reset_pages.start_page, name="reset"),
    path("t/<slug:tenant>/reset/verify", reset_pages.verify_page, name="reset-verify"),
    path("t/<slug:tenant>/reset/password", reset_pages.new_password_page, name="reset-password"),
    path("t/<slug:tenant>/register", register_pages.register_page, name="register"),
    path("sspr", pages.default_tenant_redirect("reset")),
    path("ssprsetup", pages.default_tenant_redirect("register")),
]
