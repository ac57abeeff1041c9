from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from sspr.audit import chain, export, query, retention
from sspr.cli.management.commands._base import SsprCommand
from sspr.directory.models import Tenant
from sspr.directory.tenants import get_tenant


def _tenants(slug: str | None) -> list[Tenant]:
    return [get_tenant(slug)] if slug else list(Tenant.objects.order_by("slug"))


class Command(SsprCommand):
    help = "Verify, prune and export the audit trail."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser(
            "verify",
            help="Seal pending events, then check every tenant's hash chain (exit 1 if broken).",
        )
        verify.add_argument("tenant", nargs="?", help="Only this tenant.")
        prune = sub.add_parser("prune", help="Delete events older than the retention period.")
        prune.add_argument("tenant", nargs="?", help="Only this tenant.")
        prune.add_argument(
            "--days",
            type=int,
            help="Keep this many days (default: SSPR_AUDIT_RETENTION_DAYS, 0 = keep all).",
        )
        out = sub.add_parser("export", help="Write a tenant's events as CSV or JSON lines.")
        out.add_argument("tenant")
        out.add_argument("--format", choices=sorted(export.FORMATS), default="csv")
        out.add_argument("--since", default="", help="ISO 8601 date or time, inclusive.")
        out.add_argument("--until", default="", help="ISO 8601 date or time, inclusive.")
        out.add_argument("--activity", default="", help="Exact activity name.")
        out.add_argument("--user", default="", help="Part of the actor's or target's name.")
        out.add_argument("--actor", default="", help="Who acted (any case).")
        out.add_argument("--result", default="", help="success or failure.")
        out.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _verify(self, options: dict[str, Any]) -> None:
        broken = False
        total = 0
        for tenant in _tenants(options["tenant"]):
            result = chain.verify(tenant)
            if result.broken is not None:
                broken = True
                self.stderr.write(f"{tenant.slug}: BROKEN at {result.broken.describe()}")
                continue
            total += result.verified
            notes = []
            if result.sealed_now:
                notes.append(f"{result.sealed_now} newly sealed")
            if result.starts_after:
                notes.append(f"after the retention checkpoint at seq {result.starts_after}")
            suffix = f" ({'; '.join(notes)})" if notes else ""
            self.stdout.write(f"{tenant.slug}: {result.verified} events verified{suffix}")
        if broken:
            sys.exit(1)
        self.stdout.write(f"{total} events verified")

    def _prune(self, options: dict[str, Any]) -> None:
        days = options["days"] if options["days"] is not None else settings.AUDIT_RETENTION_DAYS
        if days == 0:
            self.stdout.write(
                "Retention is off (SSPR_AUDIT_RETENTION_DAYS=0): nothing was deleted. "
                "Give --days N to prune anyway."
            )
            return
        older_than = retention.cutoff(days)
        for tenant in _tenants(options["tenant"]):
            pruned = retention.prune(tenant, older_than)
            self.stdout.write(
                f"{tenant.slug}: {pruned.deleted} events older than "
                f"{older_than:%Y-%m-%d %H:%M:%S} UTC deleted"
            )

    def _export(self, options: dict[str, Any]) -> None:
        tenant = get_tenant(options["tenant"])
        flt = query.parse_filter(
            since=options["since"],
            until=options["until"],
            activity=options["activity"],
            user=options["user"],
            actor=options["actor"],
            result=options["result"],
        )
        # Whatever a crash left unsealed is sealed before it leaves the service.
        chain.seal_pending(tenant, everything=True)
        chunks = export.chunks(export.FORMATS[options["format"]], tenant, flt)
        if options["output"]:
            path = Path(options["output"])
            try:
                with path.open("w", encoding="utf-8", newline="") as handle:
                    for chunk in chunks:
                        handle.write(chunk)
            except OSError as error:
                raise CommandError(
                    f"Cannot write {path}: {error.strerror or error}", returncode=2
                ) from None
            return
        try:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
            self.stdout.flush()
        except BrokenPipeError:
            # `sspr audit export contoso | head`: the reader has what it wanted.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- silences the exit-time flush
