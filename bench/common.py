"""What every benchmark here shares: the machine and commit it ran on, percentiles, and writing
its own section of bench/RESULTS.md."""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


def setup_django(data_dir: str | None = None) -> None:
    """Django with the project's settings and a data directory of the run's own (the settings
    create a secret key in it); DATABASE_URL, when set, is used as it is."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "sspr.settings"
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="sspr-bench-")
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    os.environ["SSPR_DATA_DIR"] = data_dir
    for path in (str(ROOT / "src"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import django

    django.setup()


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603 -- fixed arguments
            ["git", *args],  # noqa: S607 -- git from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


def write_section(heading: str, section: str) -> None:
    """Replace the section `heading` in RESULTS.md (up to the next `## ` heading), or append it."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        rest = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
    RESULTS.write_text(text)


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (KiB) of a process; {} once it is gone."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


def cpu_seconds(pid: int, *, waited: bool = False) -> float:
    """User + system CPU time of a process so far; with `waited`, also that of the children it
    has waited for (a server's short-lived workers once they are gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if waited:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live child processes of a process."""
    found: list[int] = []
    with contextlib.suppress(OSError):  # gone meanwhile
        for listing in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found += [int(child) for child in listing.read_text().split()]
    return found


def tree_cpu(pid: int) -> float:
    """CPU-seconds of a process and everything below it, the live and the finished (a
    PostgreSQL postmaster and its backends, nginx and its workers)."""
    return cpu_seconds(pid, waited=True) + sum(tree_cpu(child) for child in children(pid))


def machine_busy() -> float:
    """CPU-seconds the whole machine spent busy since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU-seconds of this process and of the children it waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def share(ours: float, limit: float) -> str:
    """Our throughput as a share of the limit's: '1.2% (1/83)'."""
    if ours <= 0 or limit <= 0:
        return "n/a"
    fraction = ours / limit
    if fraction >= 1:
        return f"{fraction:.0%}"
    return (
        f"{fraction:.1%} (1/{1 / fraction:,.0f})"
        if fraction < 0.1
        else (f"{fraction:.0%} (1/{1 / fraction:,.1f})")
    )


def tool_version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "?"
