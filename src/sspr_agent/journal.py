"""The journal of executed commands: which idempotency keys this agent carried out, and how.

An append-only file of JSON lines beside the state file (``agent.journal.jsonl``), one line per
change of an entry; the last line of a key wins. A command costs two short appends, not two
rewrites of a file that holds thousands of entries:

- "started" is forced to disk (fdatasync) before the directory is touched: after a crash, even
  of the host, the agent must know it may have made the change, and never makes it twice;
- "done" is only written: the service holds the result by then, and a "done" lost with the host
  leaves "started", which answers "outcome unknown", the safe reading.

The file is compacted (rewritten with the live entries only) when the dead lines outnumber the
live ones. A torn last line (the process died mid-write) is skipped on reading.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# A command lives seconds (expires_at = issued + 8 s) and a started one is never re-issued: a day
# of idempotency keys is ample.
MAX_ENTRIES = 5_000
MAX_AGE = 24 * 3600
COMPACT_AFTER = 1_000  # dead lines tolerated before any compaction


def journal_path_for(state_path: Path) -> Path:
    """``agent.state.json`` → ``agent.journal.jsonl``."""
    name = state_path.name.removesuffix(".json").removesuffix(".state")
    return state_path.with_name(f"{name}.journal.jsonl")


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries, self._lines = read(self.path)
        self._file: Any = None

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            return dict(entry) if entry is not None else None

    def entries(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._entries.items()}

    def start(self, key: str, command_id: str, kind: str) -> None:
        self._append(key, {"command_id": command_id, "kind": kind, "state": "started"}, sync=True)

    def done(self, key: str, command_id: str, kind: str, result: dict[str, Any]) -> None:
        entry = {"command_id": command_id, "kind": kind, "state": "done", "result": result}
        self._append(key, entry, sync=False)

    def replace_all(self, entries: dict[str, dict[str, Any]]) -> None:
        """Make `entries` the whole journal (an upgrade from the state file; tests; benches)."""
        with self._lock:
            self._entries = {k: dict(v) for k, v in entries.items()}
            self._compact()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _append(self, key: str, entry: dict[str, Any], *, sync: bool) -> None:
        now = time.time()
        entry = {**entry, "at": now}
        with self._lock:
            if self._file is None:
                self._file = _open_private(self.path)
            self._file.write(json.dumps({"key": key, **entry}, sort_keys=True) + "\n")
            self._file.flush()
            if sync:
                os.fdatasync(self._file.fileno())
            self._entries[key] = entry
            self._lines += 1
            dead = self._lines - len(self._entries)
            if dead > max(COMPACT_AFTER, len(self._entries)) or len(self._entries) > MAX_ENTRIES:
                _prune(self._entries, now)
                self._compact()

    def _compact(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for key, entry in self._entries.items():
                    fh.write(json.dumps({"key": key, **entry}, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._lines = len(self._entries)


def read(path: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The live entries of a journal file and its number of lines (read-only)."""
    entries: dict[str, dict[str, Any]] = {}
    lines = 0
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                lines += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn write: the process died in the middle of it
                key = record.pop("key", None) if isinstance(record, dict) else None
                if isinstance(key, str) and key:
                    entries[key] = record
    except FileNotFoundError:
        pass
    return entries, lines


def _prune(entries: dict[str, dict[str, Any]], now: float) -> None:
    """Forget entries older than a day, and the oldest beyond nine tenths of the cap (so that
    the next compaction is a while away)."""
    for k in [k for k, v in entries.items() if now - float(v.get("at", 0)) > MAX_AGE]:
        del entries[k]
    extra = len(entries) - MAX_ENTRIES * 9 // 10
    if extra > 0:
        # Insertion order is age order: an entry is added when its command starts.
        for k in list(entries)[:extra]:
            del entries[k]


def _open_private(path: Path) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")
