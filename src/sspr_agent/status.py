"""``sspr-agent status``: what the agent is doing, its last sync and errors, read from its
configuration and state files (no secret is shown)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sspr_agent import journal
from sspr_agent.config import AgentConfig, ConfigError
from sspr_agent.journal import journal_path_for
from sspr_agent.sync import DELTA, FULL


def status_report(config: AgentConfig) -> dict[str, Any]:
    """What `status` says, as data. No secret: no key, no bind password."""
    path = config.state_path
    state = _read_state(path)
    agent = state.get("agent", {})
    pid = agent.get("pid")
    running = agent.get("state") not in (None, "stopped") and isinstance(pid, int) and _alive(pid)
    d = config.directory
    sync = state.get("sync", {})
    return {
        "config": str(config.path),
        "state_file": str(path),
        "agent_id": config.agent_id,
        "tenant": config.tenant,
        "name": config.name,
        "service_url": config.service_url,
        "tls": _tls_words(config),
        "directory": {
            "kind": d.kind,
            "url": d.url,
            "bind_dn": d.bind_dn,
            "base_dn": d.base_dn,
            "filter": d.user_filter,
        },
        "running": running,
        "agent": {
            k: agent.get(k)
            for k in (
                "pid",
                "state",
                "version",
                "started_at",
                "stopped_at",
                "updated_at",
                "last_heartbeat_at",
                "last_heartbeat_error",
                "in_flight",
                "commands",
                "last_command",
            )
        },
        "journal_entries": len(journal.read(journal_path_for(path))[0]),
        "sync": {
            k: sync.get(k)
            for k in (
                "cursor",
                "current",
                "in_progress",
                "last_run",
                "last_full",
                "last_full_at",
                "last_delta",
                "last_delta_at",
                "object_errors",
            )
        },
        "errors": state.get("errors", [])[-10:],
    }


def _tls_words(config: AgentConfig) -> str:
    if config.service_url.startswith("http://"):
        return "none: plain http"
    if config.insecure_tls:
        return "INSECURE, verification off"
    return f"verified, CA file {config.ca_file}" if config.ca_file else "verified"


def _read_state(path: Path) -> dict[str, Any]:
    # Read-only: `status` never rewrites or moves the state file of a running agent.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError):
        raise ConfigError(f"state file {path} is unreadable") from None
    state: dict[str, Any] = {"agent": {}, "sync": {}, "errors": []}
    if isinstance(data, dict):
        for key, empty in state.items():
            if isinstance(data.get(key), type(empty)):
                state[key] = data[key]
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _ago(at: Any) -> str:
    if not isinstance(at, int | float) or not at:
        return "never"
    seconds = max(0, time.time() - float(at))
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(at)))
    if seconds < 90:
        return f"{seconds:.0f} s ago ({stamp})"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago ({stamp})"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago ({stamp})"
    return stamp


def _run_line(run: dict[str, Any]) -> str:
    return (
        f"{run.get('mode')} {str(run.get('sync_id', ''))[:8]}: {run.get('objects', 0)} "
        f"objects in {run.get('batches', 0)} batches, {run.get('errors', 0)} object errors, "
        f"{run.get('rate', 0)}/s — {run.get('status')}"
    )


def status_lines(r: dict[str, Any]) -> list[str]:
    a, s, d = r["agent"], r["sync"], r["directory"]
    lines = [
        f"agent      {r['name'] or '?'} — id {r['agent_id']}, tenant {r['tenant'] or '?'}",
        f"service    {r['service_url']} (TLS {r['tls']})",
        f"directory  {d['kind']} {d['url']} as {d['bind_dn']}, base {d['base_dn']}"
        + (f", filter {d['filter']}" if d["filter"] else ""),
    ]
    if r["running"]:
        lines.append(
            f"state      running (pid {a['pid']}), {a.get('state')}, "
            f"{a.get('in_flight') or 0} commands in flight; last heartbeat "
            f"{_ago(a.get('last_heartbeat_at'))}"
        )
        if a.get("last_heartbeat_error"):
            lines.append(f"           heartbeat failing: {a['last_heartbeat_error']}")
    elif a.get("stopped_at"):
        lines.append(f"state      not running (stopped {_ago(a.get('stopped_at'))})")
    elif a.get("state"):
        lines.append("state      not running (did not stop cleanly)")
    else:
        lines.append("state      never run")
    counts = a.get("commands") or {}
    if counts:
        total = sum(counts.values())
        each = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        last = a.get("last_command") or {}
        lines.append(
            f"commands   {total} executed ({each}); last {last.get('kind')} "
            f"{last.get('outcome')} {_ago(last.get('at'))}"
        )
    else:
        lines.append("commands   none executed")
    if s.get("current"):
        lines.append(f"sync now   {_run_line(s['current'])}")
    elif s.get("in_progress"):
        lines.append(
            f"sync       interrupted full sync, resumes at next run: {_run_line(s['in_progress'])}"
        )
    for mode in (FULL, DELTA):
        run = s.get(f"last_{mode}")
        if run:
            lines.append(f"last {mode:<5} {_ago(s.get(f'last_{mode}_at'))}: {_run_line(run)}")
    if not s.get("last_full") and not s.get("last_delta"):
        lines.append("sync       no sync completed yet")
    last_run = s.get("last_run") or {}
    if last_run.get("status") in ("failed", "interrupted"):
        lines.append(f"last sync  {_run_line(last_run)}")
    if s.get("cursor"):
        lines.append(f"cursor     {s['cursor']}")
    errors = r["errors"]
    if errors:
        lines.append(f"errors     {len(errors)} recent:")
        lines.extend(
            f"  {_ago(e.get('at'))} [{e.get('where')}] {e.get('message')}" for e in errors[-5:]
        )
    else:
        lines.append("errors     none")
    return lines
