from django.urls import path

from sspr.web import pages
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
]
