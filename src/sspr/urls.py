from django.urls import path

from sspr.web import admin_agents, admin_pages, admin_protection, pages, register_pages, reset_pages
from sspr.web.api.app import api

handler400 = "sspr.web.errors.bad_request"
handler403 = "sspr.web.errors.permission_denied"
handler404 = "sspr.web.errors.not_found"
handler500 = "sspr.web.errors.server_error"

urlpatterns = [
    path("api/v1/", api.urls),
    path("t/<slug:tenant>/", pages.tenant_home, name="tenant-home"),
    path("t/<slug:tenant>/sign-in", pages.sign_in_page, name="sign-in"),
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
    path("t/<slug:tenant>/reset", reset_pages.start_page, name="reset"),
    path("t/<slug:tenant>/reset/verify", reset_pages.verify_page, name="reset-verify"),
    path("t/<slug:tenant>/reset/password", reset_pages.new_password_page, name="reset-password"),
    path("t/<slug:tenant>/register", register_pages.register_page, name="register"),
    path("sspr", pages.default_tenant_redirect("reset")),
    path("ssprsetup", pages.default_tenant_redirect("register")),
]
