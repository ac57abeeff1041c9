"""End-user pages: sign in, my account, change password. Thin: parse, call the domain, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sspr.access.temporary_pass import is_pass_session
from sspr.directory import credentials
from sspr.directory.models import Credential, Tenant
from sspr.directory.signin import SignedIn, sign_in, sign_out
from sspr.directory.tenants import get_tenant
from sspr.errors import DomainError, NotFound
from sspr.flows.change import change_password
from sspr.flows.registration import interruption
from sspr.policy.passwords import PasswordRejected, rules_for
from sspr.web.forms import ChangePasswordForm, SignInForm

SESSION_TOKEN = "sspr_token"


class TenantView(Protocol):
    def __call__(self, request: HttpRequest, tenant: Tenant, /) -> HttpResponse: ...


class SignedInView(Protocol):
    def __call__(self, request: HttpRequest, credential: Credential, /) -> HttpResponse: ...


def with_tenant(view: TenantView) -> Any:
    @wraps(view)
    def wrapper(request: HttpRequest, tenant: str) -> HttpResponse:
        try:
            found = get_tenant(tenant)
        except NotFound as error:
            return render(request, "sspr/error.html", {"message": error.message}, status=404)
        return view(request, found)

    return wrapper


def page_credential(request: HttpRequest, tenant: Tenant) -> Credential | None:
    credential = credentials.resolve(request.session.get(SESSION_TOKEN, ""))
    if credential is None or credential.user.tenant_id != tenant.pk:
        return None
    return credential


def _signed_in(view: SignedInView, for_pass_sessions: bool) -> Any:
    @with_tenant
    @wraps(view)
    def wrapper(request: HttpRequest, tenant: Tenant) -> HttpResponse:
        credential = page_credential(request, tenant)
        if credential is None:
            return redirect(reverse("sign-in", args=[tenant.slug]))
        if not for_pass_sessions and is_pass_session(credential):
            # Signed in with a Temporary Access Pass: registering methods is all it allows.
            return redirect(reverse("register", args=[tenant.slug]))
        return view(request, credential)

    return wrapper


def signed_in(view: SignedInView) -> Any:
    """Send visitors to sign in; a revoked session (password changed elsewhere) counts as none."""
    return _signed_in(view, for_pass_sessions=False)


def signed_in_for_security_info(view: SignedInView) -> Any:
    """Like `signed_in`, and a session signed in with a Temporary Access Pass is let in too."""
    return _signed_in(view, for_pass_sessions=True)


def feedback_url(tenant: Tenant) -> str:
    return reverse("api:check", args=[tenant.slug])


def _rules_help(tenant: Tenant) -> list[str]:
    return [rule.describe() for rule in rules_for(tenant)]


@with_tenant
def tenant_home(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    target = "account" if page_credential(request, tenant) else "sign-in"
    return redirect(reverse(target, args=[tenant.slug]))


def sign_in_form(
    request: HttpRequest,
    tenant: Tenant,
    form: forms.Form,
    template: str,
    attempt: Callable[[dict[str, Any]], SignedIn],
    target: Callable[[SignedIn], str],
) -> HttpResponse:
    """A sign-in page: the form, `attempt` with what it holds, then the page named `target`."""
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            result = attempt(form.cleaned_data)
        except DomainError as failure:
            error, status = failure.message, failure.status
        else:
            # A new session id at sign-in: a planted session cookie is worth nothing.
            request.session.cycle_key()
            request.session[SESSION_TOKEN] = result.token
            return redirect(reverse(target(result), args=[tenant.slug]))
    return render(
        request,
        template,
        {"tenant": tenant, "form": form, "error": error},
        status=status if error else 400 if form.errors else 200,
    )


def _after_sign_in(result: SignedIn) -> str:
    if result.must_change_password:
        return "change"
    return "register" if interruption(result.user) else "account"


@require_http_methods(["GET", "HEAD", "POST"])
@with_tenant
def sign_in_page(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    return sign_in_form(
        request,
        tenant,
        SignInForm(request.POST or None),
        "sspr/sign_in.html",
        lambda data: sign_in(tenant, data["username"], data["password"], Credential.Kind.BROWSER),
        _after_sign_in,
    )


@require_http_methods(["POST"])
@with_tenant
def sign_out_page(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    credential = page_credential(request, tenant)
    if credential is not None:
        sign_out(credential)
    request.session.flush()
    return redirect(reverse("sign-in", args=[tenant.slug]))


@require_http_methods(["GET", "HEAD"])
@signed_in
def account_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    if user.must_change_password:
        return redirect(reverse("change", args=[user.tenant.slug]))
    return render(request, "sspr/account.html", {"tenant": user.tenant, "user": user})


@require_http_methods(["GET", "HEAD", "POST"])
@signed_in
def change_page(request: HttpRequest, credential: Credential) -> HttpResponse:
    user = credential.user
    tenant = user.tenant
    form = ChangePasswordForm(
        request.POST or None, feedback_url=feedback_url(tenant), username=user.upn
    )
    context: dict[str, Any] = {
        "tenant": tenant,
        "user": user,
        "form": form,
        "rules_help": _rules_help(tenant),
        "violations": [],
        "error": "",
    }
    if request.method == "POST" and form.is_valid():
        try:
            change_password(
                credential, form.cleaned_data["current_password"], form.cleaned_data["new_password"]
            )
        except PasswordRejected as rejected:
            context["violations"] = rejected.violations
            context["error"] = _("Your new password does not meet the rules.")
        except DomainError as failure:
            context["error"] = failure.message
        else:
            return render(request, "sspr/changed.html", {"tenant": tenant, "user": user})
    status = 400 if context["error"] or form.errors else 200
    return render(request, "sspr/change.html", context, status=status)


def default_tenant_redirect(page: str) -> Any:
    """`/sspr` and `/ssprsetup`: the first tenant's page, for single-organisation installs."""

    def view(request: HttpRequest) -> HttpResponse:
        tenant = Tenant.objects.order_by("pk").first()
        if tenant is None:
            return render(
                request,
                "sspr/error.html",
                {"message": _("No organisation has been set up yet.")},
                status=404,
            )
        return HttpResponseRedirect(reverse(page, args=[tenant.slug]))

    return view
