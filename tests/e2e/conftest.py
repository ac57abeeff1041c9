"""Browser end-to-end fixtures: a real `sspr serve` on a data directory of its own, and Chromium.

Nothing here touches the Django test database. The instance is set up with the real command line
(as an operator would) and then driven as a black box, over HTTP and through a browser.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Response,
    expect,
    sync_playwright,
)

SSPR = Path(sys.executable).with_name("sspr")
TENANT = "contoso"
DOMAIN = "contoso.com"
PASSWORD = "Correct-Horse-42"
START_TIMEOUT = 30.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Variables of the calling shell (or of pytest-django) that would point the instance elsewhere.
_INHERITED = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECRET_KEY")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP exchange with the standard library; error statuses are answers too."""
    assert url.startswith("http://127.0.0.1:")
    # Only ever the loopback instance under test (asserted above), never file: or other schemes.
    request = urllib.request.Request(url, data=body, headers=headers or {},  # noqa: S310
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()},
                         response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, {k.lower(): v for k, v in error.headers.items()},
                         error.read())


@dataclass
class Instance:
    """A served opensspr, and the command line that administers its data directory."""

    data_dir: Path
    env: dict[str, str]
    base_url: str = ""
    tenant: str = TENANT

    def sspr(self, *args: str) -> str:
        done = subprocess.run([str(SSPR), *args], env=self.env, cwd=self.data_dir,
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            pytest.fail(f"sspr {' '.join(args)} exited {done.returncode}:\n"
                        f"{done.stdout}{done.stderr}")
        return done.stdout

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def page_url(self, page: str) -> str:
        return self.url(f"/t/{self.tenant}/{page}")

    def create_user(self, prefix: str, *, password: str = PASSWORD,
                    must_change: bool = False) -> str:
        """A user nobody else uses: a fresh UPN, its mail the same address. Returns the UPN."""
        upn = f"{prefix}-{uuid.uuid4().hex[:8]}@{DOMAIN}"
        self.sspr("user", "create", self.tenant, upn, "--password", password, "--email", upn,
                  *(["--must-change"] if must_change else []))
        return upn

    def create_admin(self) -> str:
        """A Global Administrator of this tenant nobody else uses. Returns the UPN."""
        upn = f"ga-{uuid.uuid4().hex[:8]}@{DOMAIN}"
        self.sspr("user", "create", self.tenant, upn, "--password", PASSWORD,
                  "--role", "global-administrator")
        return upn

    def outbox(self, to: str) -> list[dict[str, str]]:
        out = self.sspr("outbox", "--json", "--to", to)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def api(self, method: str, path: str, payload: Any = None, token: str = "") -> Reply:
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(payload).encode() if payload is not None else None
        return http(method, self.url(f"/api/v1{path}"), body, headers)

    def api_sign_in(self, username: str, password: str) -> Reply:
        return self.api("POST", f"/tenants/{self.tenant}/sessions",
                        {"username": username, "password": password})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(instance: Instance, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"sspr serve exited {server.returncode} before answering:\n"
                        f"{log.read_text(errors='replace')}")
        try:
            reply = http("GET", instance.url("/api/v1/health"))
        except OSError as error:
            last = repr(error)
        else:
            if reply.status == 200:
                return
            last = f"HTTP {reply.status}: {reply.text[:200]}"
        time.sleep(0.1)
    pytest.fail(f"sspr serve did not answer /api/v1/health within {START_TIMEOUT:.0f} s "
                f"({last}):\n{log.read_text(errors='replace')}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def new_instance(data_dir: Path, extra_env: Mapping[str, str] | None = None,
                 tenant: str = TENANT) -> Instance:
    """An instance on `data_dir` and a free loopback port, not yet served.

    The environment is the caller's without anything that would point the instance elsewhere,
    plus `extra_env` (for example SMTP_HOST and SMTP_PORT of a test mail server).
    """
    env = {k: v for k, v in os.environ.items()
           if k not in _INHERITED and not k.startswith(("SSPR_", "SMTP_"))}
    base_url = f"http://127.0.0.1:{_free_port()}"
    env.update(SSPR_DATA_DIR=str(data_dir), SSPR_BASE_URL=base_url)
    env.update(extra_env or {})
    return Instance(data_dir=data_dir, env=env, base_url=base_url, tenant=tenant)


@contextmanager
def serving(site: Instance) -> Iterator[Instance]:
    """Run `sspr serve` for `site` until the block ends; its output goes to serve.log."""
    port = urllib.parse.urlsplit(site.base_url).port
    assert port is not None, site.base_url
    log = site.data_dir / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(SSPR), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=site.env, cwd=site.data_dir, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(site, server, log)
        yield site
    finally:
        _stop(server)


@dataclass(frozen=True)
class Mail:
    """One message as the mail server received it."""

    to: tuple[str, ...]
    subject: str
    body: str


class Mailbox:
    """An SMTP server on the loopback, in the test process, keeping every message it receives.

    Pass `env` to an instance (new_instance(..., extra_env=mailbox.env)) and its mail goes here
    over real SMTP instead of to the outbox.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._lock = threading.Lock()
        self._received: list[Mail] = []

    @property
    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port)}

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(("plain",))
        body = part.get_content() if part is not None else ""
        mail = Mail(tuple(r.lower() for r in envelope.rcpt_tos), str(message["subject"]), body)
        with self._lock:
            self._received.append(mail)
        return "250 Message accepted for delivery"

    def __len__(self) -> int:
        with self._lock:
            return len(self._received)

    def received(self, since: int = 0) -> list[Mail]:
        """Every message, oldest first, from the `since`-th on (a count taken earlier)."""
        with self._lock:
            return list(self._received[since:])

    def wait_for(self, to: str, subject: str, *, since: int = 0, timeout: float = 10.0) -> Mail:
        """The first message to `to` whose subject matches the pattern `subject`."""
        deadline = time.monotonic() + timeout
        while True:
            for mail in self.received(since):
                if to.lower() in mail.to and re.search(subject, mail.subject, re.IGNORECASE):
                    return mail
            if time.monotonic() > deadline:
                pytest.fail(f"no mail to {to} with a subject like {subject!r} within "
                            f"{timeout:.0f} s; received: {self.received(since)}")
            time.sleep(0.05)


@contextmanager
def mail_server() -> Iterator[Mailbox]:
    """A Mailbox listening on a free loopback port until the block ends."""
    mailbox = Mailbox(_free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    site = new_instance(tmp_path_factory.mktemp("sspr-e2e"))
    site.sspr("tenant", "create", TENANT, "--name", "Contoso", "--plan", "p1")
    site.sspr("user", "create", TENANT, f"alice@{DOMAIN}", "--password", PASSWORD,
              "--email", f"alice@{DOMAIN}")
    with serving(site):
        yield site


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser, instance: Instance) -> Iterator[BrowserContext]:
    fresh = browser.new_context(base_url=instance.base_url)
    try:
        yield fresh
    finally:
        fresh.close()


@dataclass
class Console:
    messages: list[ConsoleMessage] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [f"[{m.type}] {m.text}" for m in self.messages]

    def policy_violations(self) -> list[str]:
        """What the browser refused under the Content Security Policy."""
        return [t for t in self.texts() if "Content Security Policy" in t]


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def console(page: Page) -> Console:
    """What the page wrote to the browser console, from the first navigation on."""
    seen = Console()

    def record(message: ConsoleMessage) -> None:
        seen.messages.append(message)

    page.on("console", record)
    return seen


# --- What a person does in the browser -----------------------------------------------------------


def refuse_forbidden(page: Page, response: Response | None) -> None:
    """A form the site itself served must never be refused as forged: say so at once."""
    if response is not None and response.status == 403:
        pytest.fail(
            f"{response.request.method} {response.url} was refused (403): "
            f"{page.locator('main').inner_text()!r}"
        )


def submit(page: Page, button: Locator) -> Response | None:
    """Press a button that sends a form; returns the answer to the form."""
    with page.expect_navigation() as navigation:
        button.click()
    refuse_forbidden(page, navigation.value)
    return navigation.value


def sign_in(page: Page, site: Instance, username: str,
            password: str = PASSWORD) -> Response | None:
    """Fill in the sign-in form and send it, whether or not it lets the user in."""
    page.goto(site.page_url("sign-in"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    return submit(page, page.get_by_role("button", name="Sign in"))


def signed_in(page: Page, site: Instance, username: str) -> None:
    """Sign in with PASSWORD, which must let the user in: the browser leaves the sign-in page."""
    sign_in(page, site, username)
    expect(page).not_to_have_url(site.page_url("sign-in"))


def open_admin_page(page: Page, site: Instance, username: str, link: str) -> None:
    """Sign in as `username` and follow the link `link` from the administration's home page to
    the page of that heading."""
    signed_in(page, site, username)
    page.goto(site.page_url("admin/"))
    page.get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=link, level=1)).to_be_visible()
