"""What every benchmark here shares: the machine and commit it ran on, percentiles, and writing
its own section of bench/RESULTS.md."""

from __future__ import annotations

import atexit
import os
import platform
import shutil
import subprocess
import sys
import tempfile
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
