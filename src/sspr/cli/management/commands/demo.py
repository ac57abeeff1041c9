from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser, OutputWrapper
from django.db import connections, transaction
from django.utils import timezone

from sspr.cli.management.commands._base import SsprCommand
from sspr.cli.management.commands.serve import add_server_arguments, run_server
from sspr.demo_directory import (
    DEFAULT_PORT,
    GROUP,
    INSTALL_HINT,
    PEOPLE,
    PortTaken,
    Slapd,
    SlapdError,
    SlapdInstall,
    demo_slapd,
    die_with_parent,
    find_slapd,
)
from sspr.directory.demo import DEMO_USERS, ensure_demo
from sspr.directory.models import Group, Source, Tenant, User
from sspr.directory.tenants import create_tenant
from sspr.directory.users import create_user
from sspr.hybrid.enrollment import create_token, revoke
from sspr.hybrid.models import Agent, SyncState
from sspr.methods.models import RegisteredMethod
from sspr.policy.sspr_policy import update_policy

# The hybrid demo's cloud tenant; its users come from the demo directory (sspr.demo_directory).
HYBRID_SLUG = "fabrikam"
HYBRID_NAME = "Fabrikam (hybrid demo)"
HYBRID_ADMIN = "admin@fabrikam.test"
HYBRID_ADMIN_PASSWORD = "Lagoon-Beacon-46"  # well known: this tenant is for a laptop
SYNC_INTERVAL = 30
READY_TIMEOUT = 60.0
SERVICE_START_TIMEOUT = 60.0


class Command(SsprCommand):
    help = "Create the demo tenant 'contoso' (once), say who can sign in, then serve."

    def add_arguments(self, parser: CommandParser) -> None:
        add_server_arguments(parser)
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Set up the demo and print the sign-ins, but do not serve.",
        )
        parser.add_argument(
            "--hybrid",
            action="store_true",
            help="Also start a local OpenLDAP directory (tenant 'fabrikam') with an enrolled "
            "sspr-agent beside the service (needs slapd: " + INSTALL_HINT + ").",
        )
        parser.add_argument(
            "--ldap-port",
            type=int,
            default=DEFAULT_PORT,
            help=f"Port of the demo directory on 127.0.0.1 (--hybrid; default {DEFAULT_PORT}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        install = None
        if options["hybrid"]:
            install = find_slapd()
            if install is None:
                raise CommandError(
                    "sspr demo --hybrid needs OpenLDAP's slapd, which is not installed here; "
                    f"install it with: {INSTALL_HINT}",
                    returncode=2,
                )
        tenant, created = ensure_demo()
        base = f"http://{options['host']}:{options['port']}"
        out = self.stdout
        out.write(
            ("Created" if created else "Using") + f" the demo tenant '{tenant.slug}' "
            f"(plan {tenant.plan}); data in {settings.DATA_DIR}."
        )
        out.write("\nWho can sign in (passwords as first set; a user may have changed theirs):")
        width = max(len(u.upn) for u in DEMO_USERS)
        for user in DEMO_USERS:
            note = ", ".join(
                [*user.roles, *(["must change at sign-in"] if user.must_change else [])]
            )
            out.write(f"  {user.upn.ljust(width)}  {user.password.ljust(18)}  {note}".rstrip())
        out.write("\nWhere:")
        out.write(f"  Sign in         {base}/t/{tenant.slug}/sign-in")
        out.write(f"  Change password {base}/t/{tenant.slug}/change")
        out.write(f"  API             {base}/api/v1/  (OpenAPI: {base}/api/v1/openapi.json)")
        out.write("  Sent messages   sspr outbox   (with .venv/bin on your PATH)\n")
        out.flush()
        if install is not None:
            HybridDemo(out, self.stderr, install, options).run()
            return
        if not options["no_serve"]:
            run_server(options["host"], options["port"], options["workers"])


# ------------------------------------------------------------------------------ the tenant
@transaction.atomic
def ensure_hybrid_tenant() -> tuple[Tenant, bool]:
    """The tenant `fabrikam` (plan p1) with a cloud Global Administrator, SSPR for everyone,
    writeback and unlock on, CAPTCHA on; and whether this call created it."""
    existing = Tenant.objects.filter(slug=HYBRID_SLUG).first()
    if existing is not None:
        return existing, False
    tenant = create_tenant(HYBRID_SLUG, HYBRID_NAME, "p1", ["fabrikam.test"])
    admin = create_user(
        tenant,
        HYBRID_ADMIN,
        password=HYBRID_ADMIN_PASSWORD,
        display_name="Megan Bowen (Global Administrator)",
        given_name="Megan",
        family_name="Bowen",
        mail=HYBRID_ADMIN,
        roles=("global-administrator",),
        actor="sspr demo",
    )
    now = timezone.now()
    RegisteredMethod.objects.create(
        user=admin,
        method="email",
        value=admin.mail,
        state=RegisteredMethod.State.ACTIVE,
        verified_at=now,
        confirmed_at=now,
    )
    update_policy(
        tenant,
        {
            "enabled_for": "all",
            "writeback_enabled": True,
            "unlock_enabled": True,
            "captcha_enabled": True,
        },
        actor="sspr demo",
    )
    return tenant, True


@transaction.atomic
def forget_directory(tenant: Tenant) -> int:
    """The demo directory was made afresh: revoke the tenant's agents and drop what they synced
    from the old one (its anchors are gone), so that the new agent starts with a full sync."""
    for agent in Agent.objects.filter(tenant=tenant, revoked_at__isnull=True):
        revoke(agent, "sspr demo")
    users = User.objects.filter(tenant=tenant, source=Source.SYNCED)
    count = users.count()
    for user in users:
        user.delete()
    for group in Group.objects.filter(tenant=tenant, source=Source.SYNCED):
        group.delete()
    SyncState.objects.filter(tenant=tenant).delete()
    return count


# ------------------------------------------------------------------------------ the processes
class _Stop(Exception):
    """SIGTERM: stop the children and end."""


@contextlib.contextmanager
def _signals(handler: Any) -> Iterator[None]:
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stop_process(process: subprocess.Popen[bytes] | None, *signals: int) -> None:
    """Send each signal in turn, waiting a little after each; SIGKILL when none worked."""
    if process is None:
        return
    waits = (15.0, 10.0, 5.0)
    for sig, wait in zip(signals, waits, strict=False):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    if process.poll() is None:
        process.kill()
        process.wait(10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


class HybridDemo:
    """The service, the demo directory and an enrolled agent, as children of this process."""

    def __init__(
        self, out: OutputWrapper, err: OutputWrapper, install: SlapdInstall, options: dict[str, Any]
    ) -> None:
        self.out = out
        self.err = err
        self.install = install
        self.host: str = options["host"]
        self.port: int = options["port"]
        self.workers: int = options["workers"]
        self.ldap_port: int = options["ldap_port"]
        self.serve = not options["no_serve"]
        self.data_dir = Path(settings.DATA_DIR).absolute()
        self.agent_dir = self.data_dir / "demo-agent"
        self.agent_config = self.agent_dir / "agent.json"
        self.agent_log = self.agent_dir / "agent.log"
        self.bind_password_file = self.agent_dir / "bind-password"
        # What a browser and the agent use to reach the service.
        reach = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host)  # noqa: S104
        if reach is None:
            reach = f"[{self.host}]" if ":" in self.host else self.host
        self.base = f"http://{reach}:{self.port}"
        self.slapd: Slapd | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None

    def say(self, line: str = "") -> None:
        self.out.write(line)
        self.out.flush()

    # ---------------------------------------------------------------- the whole run
    def run(self) -> None:
        started = time.monotonic()
        try:
            with _signals(_raise_stop_or_interrupt):
                self._start(started)
                if self.serve:
                    self.say("Press Ctrl-C to stop the service, the agent and the directory.")
                    self._watch()
        except (_Stop, KeyboardInterrupt):
            self.say("\nStopping the agent, the service and the demo directory ...")
        finally:
            with _signals(signal.SIG_IGN):
                self._stop_children()
        if self.serve:
            self.say("Stopped.")

    def _start(self, started: float) -> None:
        tenant, created = ensure_hybrid_tenant()
        self.say(
            ("Created" if created else "Using")
            + f" the hybrid demo tenant '{tenant.slug}' (plan {tenant.plan})."
        )
        try:
            server, made = demo_slapd(self.data_dir / "demo-ldap", self.ldap_port, self.install)
        except SlapdError as exc:
            raise CommandError(f"cannot prepare the demo directory: {exc}", returncode=1) from None
        if made and (self.agent_config.exists() or _has_synced(tenant)):
            dropped = forget_directory(tenant)
            self._forget_agent_files()
            self.say(
                f"The demo directory was made afresh: the earlier agent is revoked and its "
                f"{dropped} synced users are dropped; they come back with the first sync."
            )
        try:
            self.slapd = server.start(die_with_parent_process=True)
        except PortTaken:
            raise CommandError(
                f"port {self.ldap_port} on 127.0.0.1 is taken: choose another with --ldap-port",
                returncode=2,
            ) from None
        except SlapdError as exc:
            raise CommandError(f"the demo directory did not start: {exc}", returncode=1) from None
        self.say(
            ("Created" if made else "Started")
            + f" the demo directory {server.url} ({server.suffix}); files in {server.root}."
        )
        connections.close_all()  # the children write to the same database
        self._start_service()
        agent_id, enrolled = self._ensure_agent(tenant, server)
        self.say(
            ("Enrolled" if enrolled else "Using")
            + f" the demo agent {agent_id}; configuration {self.agent_config}."
        )
        self._start_agent()
        ready = self._wait_until_synced(tenant, time.monotonic())
        self._print_guide(tenant, server, ready, time.monotonic() - started)
        if not ready and not self.serve:
            raise CommandError(
                f"the agent did not sync the directory users within {READY_TIMEOUT:.0f} s; its "
                f"log, {self.agent_log}:\n{_tail(self.agent_log)}",
                returncode=1,
            )

    # ---------------------------------------------------------------- the service
    def _start_service(self) -> None:
        env = dict(os.environ)
        env["SSPR_DATA_DIR"] = str(self.data_dir)
        env.setdefault("SSPR_BASE_URL", self.base)
        argv = [sys.executable, "-m", "sspr.cli.main", "serve", "--host", self.host,
                "--port", str(self.port), "--workers", str(self.workers)]  # fmt: skip
        self.service = _spawn(argv, env, None)
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        while not self._healthy():
            if self.service.poll() is not None:
                raise CommandError(
                    f"the service did not start on {self.host}:{self.port} (exit "
                    f"{self.service.returncode}; is the port taken? choose another with --port)",
                    returncode=1,
                )
            if time.monotonic() > deadline:
                raise CommandError(
                    f"the service does not answer {self.base}/api/v1/health after "
                    f"{SERVICE_START_TIMEOUT:.0f} s",
                    returncode=1,
                )
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/api/v1/health", timeout=2) as answer:  # noqa: S310 - our own http URL
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    # ---------------------------------------------------------------- the agent
    def _ensure_agent(self, tenant: Tenant, server: Slapd) -> tuple[str, bool]:
        """Enrol the demo agent once; on later runs bring its configuration up to date (the
        ports may differ) and enrol again only if this service does not know it."""
        from sspr_agent.config import AgentConfig, ConfigError

        self.agent_dir.mkdir(parents=True, exist_ok=True)
        self.agent_dir.chmod(0o700)
        _write_private(self.bind_password_file, server.service_password + "\n")
        if self.agent_config.exists():
            try:
                config = AgentConfig.load(self.agent_config)
            except ConfigError as exc:
                self.say(f"The demo agent's configuration is unusable ({exc}): enrolling again.")
            else:
                known = Agent.objects.filter(
                    pk=config.agent_id, tenant=tenant, revoked_at__isnull=True
                ).exists()
                connections.close_all()
                if known:
                    config.service_url = self.base
                    config.directory.url = server.url
                    config.directory.bind_password = server.service_password
                    config.directory.bind_password_file = ""
                    config.ca_file = str(server.ca_file)
                    config.insecure_tls = False
                    config.save()
                    return config.agent_id, False
                self.say("This service does not know the demo agent (a new database?): enrolling.")
            self._forget_agent_files()
        token, _ = create_token(tenant, "sspr demo")
        connections.close_all()
        argv = [
            sys.executable, "-m", "sspr_agent.cli", "enroll", "--url", self.base,
            "--token", token, "--config", str(self.agent_config), "--kind", "openldap",
            "--ldap-url", server.url, "--bind-dn", server.service_dn,
            "--bind-password-file", str(self.bind_password_file), "--base-dn", server.suffix,
            "--ca-file", str(server.ca_file), "--name", "demo-agent", "--force",
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - our own argv, no shell
            argv, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise CommandError(
                f"sspr-agent enroll failed (exit {done.returncode}):\n"
                + (done.stdout + done.stderr).replace(token, "***").strip(),
                returncode=1,
            )
        config = AgentConfig.load(self.agent_config)
        return config.agent_id, True

    def _forget_agent_files(self) -> None:
        for name in ("agent.json", "agent.state.json", "agent.state.json.lock"):
            (self.agent_dir / name).unlink(missing_ok=True)

    def _start_agent(self) -> None:
        argv = [sys.executable, "-m", "sspr_agent.cli", "run", "--config",
                str(self.agent_config), "--sync-interval", str(SYNC_INTERVAL)]  # fmt: skip
        with self.agent_log.open("ab") as log:
            self.agent = _spawn(argv, dict(os.environ), log)

    def _wait_until_synced(self, tenant: Tenant, since: float) -> bool:
        """Until the directory's people and group are in the service and the agent is live
        (the group comes in the sync's last batch, after the people)."""
        upns = [p.upn for p in PEOPLE]
        begun = timezone.now()
        deadline = since + READY_TIMEOUT
        try:
            while time.monotonic() < deadline:
                self._check_children()
                synced = User.objects.filter(
                    tenant=tenant, source=Source.SYNCED, upn__in=upns
                ).count()
                live = Agent.objects.filter(
                    tenant=tenant, revoked_at__isnull=True, last_heartbeat_at__gte=begun
                ).exists()
                grouped = Group.objects.filter(
                    tenant=tenant, source=Source.SYNCED, name=GROUP
                ).exists()
                if synced == len(upns) and grouped and live:
                    return True
                time.sleep(0.25)
            return False
        finally:
            connections.close_all()

    # ---------------------------------------------------------------- while serving
    def _check_children(self) -> None:
        if self.service is not None and self.service.poll() is not None:
            raise CommandError(
                f"the service stopped unexpectedly (exit {self.service.returncode}; its output "
                "is above)",
                returncode=1,
            )
        if self.agent is not None and self.agent.poll() is not None:
            raise CommandError(
                f"the agent stopped unexpectedly (exit {self.agent.returncode}); its log, "
                f"{self.agent_log}:\n{_tail(self.agent_log)}",
                returncode=1,
            )
        if self.slapd is not None and not self.slapd.running:
            raise CommandError(
                f"the demo directory stopped unexpectedly; its log, {self.slapd.log_file}:\n"
                + _tail(self.slapd.log_file),
                returncode=1,
            )

    def _watch(self) -> None:
        while True:
            self._check_children()
            time.sleep(0.5)

    def _stop_children(self) -> None:
        # The agent first (it finishes its commands in flight), then the service: SIGTERM, and
        # SIGINT after a moment, which makes uvicorn give up waiting for the agent's long poll.
        agent, self.agent = self.agent, None
        _stop_process(agent, signal.SIGTERM)
        service, self.service = self.service, None
        if service is not None and service.poll() is None:
            service.terminate()
            try:
                service.wait(1)
            except subprocess.TimeoutExpired:
                _stop_process(service, signal.SIGINT, signal.SIGINT)
        slapd, self.slapd = self.slapd, None
        if slapd is not None:
            slapd.stop()

    # ---------------------------------------------------------------- what to try
    def _print_guide(self, tenant: Tenant, server: Slapd, ready: bool, took: float) -> None:
        base, t = self.base, tenant.slug
        users = User.objects.filter(tenant=tenant, source=Source.SYNCED).count()
        groups = Group.objects.filter(tenant=tenant, source=Source.SYNCED).count()
        connections.close_all()
        say = self.say
        if ready:
            say(
                f"Hybrid demo ready in {took:.1f} s: the agent synced {users} directory users and "
                f"{groups} group{'s' if groups != 1 else ''} ('{GROUP}'); it syncs every "
                f"{SYNC_INTERVAL} s."
            )
        else:
            say(
                f"WARNING: the agent has not synced the directory users within "
                f"{READY_TIMEOUT:.0f} s; see {self.agent_log}"
            )
        rows = [(p.upn, p.password, p.display_name, "directory user") for p in PEOPLE]
        rows.append((HYBRID_ADMIN, HYBRID_ADMIN_PASSWORD, "Megan Bowen",
                     "cloud user, global-administrator"))  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        say(f"\nWho can sign in to '{t}':")
        for upn, password, name, kind in rows:
            cells = (upn.ljust(widths[0]), password.ljust(widths[1]), name.ljust(widths[2]), kind)
            say("  " + "  ".join(cells))
        say("  Directory users sign in with their directory password (as first set there): the")
        say("  agent checks it with an LDAP bind (pass-through).")
        dana = PEOPLE[0]
        ldap = f"ldapwhoami -x -H {server.url} -D {dana.dn}"
        say("\nWhat to try:")
        say(f"  1. Sign in as {dana.upn} at {base}/t/{t}/sign-in")
        say(f"  2. Register an email at {base}/t/{t}/register (the code: sspr outbox)")
        say(f"  3. Sign out; reset the password at {base}/t/{t}/reset. The directory has it:")
        say(f"       {ldap} -w NEWPASSWORD")
        say("  4. Lock the account: that command with -w wrong, five times (signing in now says")
        say(f"     the account is locked). A reset at {base}/t/{t}/reset unlocks it; the API's")
        say('     completion {"action": "unlock"} unlocks it keeping the password.')
        say(f"  5. Sign in as {HYBRID_ADMIN}: the agent at {base}/t/{t}/admin/agents")
        say("\nThe demo directory and agent:")
        say(f"  Directory  {server.url}  {server.suffix}  log {server.log_file}")
        say(f"             rootdn {server.admin_dn}, its password in")
        say(f"             {server.root / 'secrets' / 'admin.password'}")
        say(f"             (ldapadd a user with it: the agent syncs it within {SYNC_INTERVAL} s)")
        say(f"  Agent      sspr-agent status --config {self.agent_config}")
        say(f"             log {self.agent_log}")
        if shutil.which("ldapwhoami") is None:
            say(f"  (ldapwhoami and ldapadd come with ldap-utils: {INSTALL_HINT})")
        say("")


def _raise_stop_or_interrupt(signum: int, frame: Any) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise _Stop


def _has_synced(tenant: Tenant) -> bool:
    found = User.objects.filter(tenant=tenant, source=Source.SYNCED).exists()
    connections.close_all()
    return found


def _spawn(argv: list[str], env: dict[str, str], log: IO[bytes] | None) -> subprocess.Popen[bytes]:
    """A child in a session of its own (a Ctrl-C is ours: we stop the children in order) that
    is sent SIGTERM should this process die without stopping it."""
    return subprocess.Popen(  # noqa: S603 - our own argv, no shell
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
