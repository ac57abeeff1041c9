"""What a screen reader and a keyboard need from every page, checked on the served HTML: a
language, one main heading, a label for every control, named buttons, tables with captions and
header scopes, text alternatives for images and charts, and no positive tabindex (which would
break the focus order)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.test import Client

from sspr.directory.groups import create_group
from sspr.directory.models import Tenant, User
from tests.conftest import browser

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "admin/",
    "admin/password-reset",
    "admin/password-protection",
    "admin/agents",
    "admin/users/",
    "admin/users/alice@contoso.com",
    "admin/groups/",
    "admin/audit/",
    "admin/insights",
    "admin/recommendations",
    "admin/conditional-access/",
    "admin/conditional-access/new",
    "admin/conditional-access/what-if",
    "admin/named-locations/",
    "admin/named-locations/new",
    "admin/users/alice@contoso.com/temporary-access-passes",
]
USER_PAGES = ["sign-in", "reset", "register", "change", "account",
              "sign-in/temporary-access-pass", "verify-identity"]
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


@dataclass
class Findings:
    lang: str = ""
    h1: int = 0
    problems: list[str] = field(default_factory=list)


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = Findings()
        self.labels: set[str] = set()
        self.controls: list[tuple[str, dict[str, str], bool]] = []  # tag, attrs, inside a label
        self.open_labels = 0
        self.tables: list[dict[str, str]] = []
        self.table_captions: list[bool] = []
        self.button: dict[str, str] | None = None
        self.button_text = ""
        self.svgs: list[bool | None] = []  # per open <svg>: an image named yet? (None: not one)

    def handle_starttag(self, tag: str, raw: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in raw}
        if tag == "html":
            self.found.lang = attrs.get("lang", "")
        elif tag == "h1":
            self.found.h1 += 1
        elif tag == "label":
            self.open_labels += 1
            if attrs.get("for"):
                self.labels.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type", "text") not in UNLABELLED_TYPES:
                self.controls.append((tag, attrs, self.open_labels > 0))
        elif tag == "button":
            self.button, self.button_text = attrs, ""
        elif tag == "table":
            self.tables.append(attrs)
            self.table_captions.append(False)
        elif tag == "caption" and self.table_captions:
            self.table_captions[-1] = True
        elif tag == "th" and "scope" not in attrs:
            self.found.problems.append("a table header without scope")
        elif tag == "img" and "alt" not in attrs:
            self.found.problems.append(f"an image without alt: {attrs.get('src')}")
        elif tag == "svg":
            named = bool(attrs.get("aria-label") or attrs.get("aria-labelledby"))
            self.svgs.append(named if attrs.get("role") == "img" else None)
        elif tag == "title" and self.svgs and self.svgs[-1] is not None:
            self.svgs[-1] = True
        if int(attrs.get("tabindex", "0") or 0) > 0:
            self.found.problems.append(f"a positive tabindex on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1
        elif tag == "button" and self.button is not None:
            if not (self.button_text.strip() or self.button.get("aria-label")):
                self.found.problems.append("a button without a name")
            self.button = None
        elif tag == "table":
            attrs, captioned = self.tables.pop(), self.table_captions.pop()
            if not (captioned or attrs.get("aria-label") or attrs.get("aria-labelledby")):
                self.found.problems.append(f"a table without a caption: {attrs.get('id')}")
        elif tag == "svg" and self.svgs and self.svgs.pop() is False:
            self.found.problems.append("a chart without a title")

    def handle_data(self, data: str) -> None:
        if self.button is not None:
            self.button_text += data

    def result(self) -> Findings:
        for tag, attrs, wrapped in self.controls:
            named = attrs.get("aria-label") or attrs.get("aria-labelledby")
            if not (wrapped or named or attrs.get("id") in self.labels):
                self.found.problems.append(f"<{tag} name={attrs.get('name')}> without a label")
        return self.found


def audit(html: str) -> Findings:
    parser = Audit()
    parser.feed(html)
    parser.close()
    return parser.result()


@pytest.fixture
def admin_client(tenant: Tenant, make_user: Callable[..., User], alice: User) -> Client:
    create_group(tenant, "Pilot", members=[alice.upn])
    make_user(tenant, "ga@contoso.com", roles=["global-administrator"])
    return browser("ga@contoso.com")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_every_admin_page_is_usable_without_sight(admin_client: Client, path: str) -> None:
    response = admin_client.get(f"/t/contoso/{path}")
    assert response.status_code == 200, path
    found = audit(response.content.decode())
    assert found.lang == "en" and found.h1 == 1, path
    assert found.problems == [], path


@pytest.mark.parametrize("path", USER_PAGES)
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_end_user_page_is_usable_without_sight(alice: User, path: str, language: str) -> None:
    signed_in = ("change", "account", "register", "verify-identity")
    client = browser("alice@contoso.com") if path in signed_in else Client()
    response = client.get(f"/t/contoso/{path}", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, path
    found = audit(response.content.decode())
    assert found.lang == language and found.h1 == 1, path
    assert found.problems == [], path


def test_the_audit_finds_what_it_looks_for() -> None:
    broken = (
        '<html><body><h1>A</h1><h1>B</h1><input name="q"><button></button>'
        "<table><tr><th>x</th></tr></table><img src=a.png>"
        '<svg role="img"><rect/></svg><a tabindex="3">x</a></body></html>'
    )
    found = audit(broken)
    assert found.lang == "" and found.h1 == 2
    assert len(found.problems) == 7, found.problems
