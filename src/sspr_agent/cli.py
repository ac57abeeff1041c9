"""``sspr-agent``: enroll, run, status.

Exit codes: 0 done; 1 the service or the directory failed at run time; 2 a usage or
configuration error, told in one line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, NoReturn

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from sspr_agent import __version__
from sspr_agent.channel import Channel, ChannelError, ssl_context
from sspr_agent.config import (
    DIRECTORY_KINDS,
    AgentConfig,
    ConfigError,
    DirectorySettings,
    StateStore,
    read_password_file,
)
from sspr_agent.directory.base import Directory, DirectoryConfig
from sspr_agent.runtime import CAPABILITIES, Agent, AlreadyRunning, run_lock, stop_on_signals
from sspr_agent.status import status_lines, status_report

log = logging.getLogger("sspr_agent")

INSECURE_WARNING = (
    "WARNING: TLS certificate verification is OFF (--insecure-tls). Anyone on the network path "
    "can impersonate the service or the directory. Use this only in a lab."
)


class UsageError(Exception):
    """Exit 2 with this one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _open_directory(config: DirectoryConfig) -> Directory:
    """The directory for `config` (directory/__init__.py). Tests replace this function."""
    from sspr_agent import directory as package

    opener = getattr(package, "open_directory", None)
    if opener is None:
        raise ConfigError("this build of sspr-agent has no directory support (open_directory)")
    result: Directory = opener(config)
    return result


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# enroll


def cmd_enroll(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    config_path = Path(args.config).absolute()
    if config_path.exists() and not args.force:
        raise UsageError(
            f"{config_path} exists: this agent is enrolled already (--force to "
            "enroll again with new keys)"
        )
    if not config_path.parent.is_dir():
        raise UsageError(f"directory {config_path.parent} does not exist")
    if args.ca_file and not Path(args.ca_file).is_file():
        raise UsageError(f"CA file {args.ca_file} does not exist")
    _check_url(args.url, ("https", "http"), "--url")
    _check_url(args.ldap_url, ("ldaps", "ldap"), "--ldap-url")
    if args.insecure_tls:
        print(INSECURE_WARNING, file=err)
    bind_password = read_password_file(Path(args.bind_password_file))
    ca_file = str(Path(args.ca_file).absolute()) if args.ca_file else ""

    settings = DirectorySettings(
        kind=args.kind,
        url=args.ldap_url,
        bind_dn=args.bind_dn,
        base_dn=args.base_dn,
        bind_password=bind_password,
        user_filter=args.filter or "",
    )
    directory_config = DirectoryConfig(
        kind=args.kind,
        url=args.ldap_url,
        bind_dn=args.bind_dn,
        bind_password=bind_password,
        base_dn=args.base_dn,
        user_filter=args.filter or "",
        ca_file=ca_file,
        insecure_tls=args.insecure_tls,
    )
    print(f"checking the directory: binding to {args.ldap_url} as {args.bind_dn} ...", file=out)
    problem = _check_directory(directory_config)
    if problem:
        raise UsageError(
            _scrub(
                f"cannot bind to the directory at {args.ldap_url} as {args.bind_dn}: {problem}",
                bind_password,
            )
        )
    print("directory: bind ok", file=out)

    signing_key = SigningKey.generate()
    box_key = PrivateKey.generate()
    channel = Channel(args.url, context=ssl_context(ca_file, args.insecure_tls))
    payload = {
        "token": args.token,
        "name": args.name or socket.gethostname(),
        "agent_version": __version__,
        "directory_kind": args.kind,
        "sign_public_key": _b64(signing_key.verify_key.encode()),
        "box_public_key": _b64(box_key.public_key.encode()),
        "capabilities": CAPABILITIES,
    }
    try:
        answer = channel.enroll(payload)
    except ChannelError as exc:
        print(f"sspr-agent: enrolment failed: {_scrub(str(exc), args.token)}", file=err)
        return 1
    agent_id = str(answer.get("agent_id") or "")
    service_key = str(answer.get("service_sign_public_key") or "")
    if not agent_id or not _is_key(service_key):
        print(
            "sspr-agent: enrolment failed: the service's answer lacks an agent id or a valid "
            "signing key",
            file=err,
        )
        return 1
    config = AgentConfig(
        path=config_path,
        service_url=args.url.rstrip("/"),
        agent_id=agent_id,
        tenant=str(answer.get("tenant") or ""),
        name=str(payload["name"]),
        sign_private_key=_b64(bytes(signing_key)),
        box_private_key=_b64(bytes(box_key)),
        service_sign_public_key=service_key,
        directory=settings,
        ca_file=ca_file,
        insecure_tls=args.insecure_tls,
        enrolled_at=time.time(),
    )
    config.save()
    print(f"enrolled: agent {agent_id} for tenant {config.tenant or '?'}", file=out)
    print(
        f"configuration written to {config_path} (mode 0600; it holds the agent's private "
        "keys and the bind password)",
        file=out,
    )
    print(f"next: sspr-agent run --config {config_path}", file=out)
    return 0


def _check_directory(config: DirectoryConfig) -> str:
    """ "" when a bind and a read work, else why not (never the password)."""
    try:
        directory = _open_directory(config)
    except ConfigError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever the library raises, say it in one line
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    try:
        directory.cursor()
    except Exception as exc:  # noqa: BLE001
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    finally:
        with contextlib.suppress(Exception):
            directory.close()
    return ""


def _check_url(url: str, schemes: tuple[str, ...], option: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise UsageError(f"{option} must be a {' or '.join(s + '://' for s in schemes)} URL")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _is_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


# run


def cmd_run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    config = AgentConfig.load(Path(args.config))
    interval = args.sync_interval or config.sync_interval
    if interval < 10:
        raise UsageError("--sync-interval must be at least 10 seconds")
    if args.workers < 1 or args.workers > 32:
        raise UsageError("--workers must be between 1 and 32")
    if config.insecure_tls:
        print(INSECURE_WARNING, file=err)
        log.warning("agent.tls.insecure verification disabled by configuration")
    host = urllib.parse.urlsplit(config.service_url).hostname or ""
    if config.service_url.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("agent.tls.none the service URL is not HTTPS")
    directory_config = config.directory_config()  # reads a bind password file now: fail early
    channel = Channel(
        config.service_url,
        agent_id=config.agent_id,
        signing_key=SigningKey(base64.b64decode(config.sign_private_key)),
        context=ssl_context(config.ca_file, config.insecure_tls),
    )

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        with run_lock(config.state_path.with_name(config.state_path.name + ".lock")):
            agent = Agent(
                config,
                state=StateStore(config.state_path),
                channel=channel,
                directory=lambda: _open_directory(directory_config),
                workers=args.workers,
                sync_interval=interval,
                out=say,
            )
            with stop_on_signals(agent.stop):
                return agent.run()
    except AlreadyRunning as exc:
        raise UsageError(str(exc)) from None


# status


def cmd_status(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    config = AgentConfig.load(Path(args.config))
    report = status_report(config)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True), file=out)
        return 0
    for line in status_lines(report):
        print(line, file=out)
    return 0


# the command line


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sspr-agent", description="opensspr on-premises agent")
    parser.add_argument("--version", action="version", version=f"sspr-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = sub.add_parser("enroll", help="register this agent and write its configuration")
    enroll.add_argument("--url", required=True, help="the service, https://...")
    enroll.add_argument("--token", required=True, help="one-time enrolment token")
    enroll.add_argument("--config", required=True, help="configuration file to write")
    enroll.add_argument("--kind", required=True, choices=DIRECTORY_KINDS)
    enroll.add_argument("--ldap-url", required=True, help="ldaps://dc.example.com")
    enroll.add_argument("--bind-dn", required=True)
    enroll.add_argument(
        "--bind-password-file", required=True, help="file whose first line is the bind password"
    )
    enroll.add_argument("--base-dn", required=True)
    enroll.add_argument("--filter", default="", help="extra LDAP filter scoping the users")
    tls = enroll.add_mutually_exclusive_group()
    tls.add_argument(
        "--ca-file",
        default="",
        help="PEM CA bundle trusted for the service and the directory, besides the system's",
    )
    tls.add_argument(
        "--insecure-tls", action="store_true", help="disable TLS verification (lab only)"
    )
    enroll.add_argument("--name", default="", help="this agent's name (default: host name)")
    enroll.add_argument("--force", action="store_true", help="overwrite an existing config")

    run = sub.add_parser("run", help="connect outbound and serve")
    run.add_argument("--config", required=True)
    run.add_argument(
        "--sync-interval",
        type=int,
        default=0,
        help="seconds between delta syncs (default: the config's, 120)",
    )
    run.add_argument("--workers", type=int, default=4, help="commands run at once (default 4)")
    run.add_argument("-v", "--verbose", action="store_true")

    status = sub.add_parser("status", help="what the agent is doing, its last sync and errors")
    status.add_argument("--config", required=True)
    status.add_argument("--json", action="store_true")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str], IO[str]], int]] = {
    "enroll": cmd_enroll,
    "run": cmd_run,
    "status": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already told
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "run" and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stderr,
        )
    try:
        return COMMANDS[args.command](args, sys.stdout, sys.stderr)
    except (UsageError, ConfigError) as exc:
        print(f"sspr-agent: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
