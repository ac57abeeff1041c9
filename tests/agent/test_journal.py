"""The agent's journal of executed commands: append-only, durable where it matters, compacted."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sspr_agent import journal
from sspr_agent.config import StateStore, write_private
from sspr_agent.journal import Journal, journal_path_for

RESULT = {"command_id": "c1", "outcome": "ok", "message": "", "details": {}, "version": 1}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_journal_sits_beside_the_state_file() -> None:
    assert journal_path_for(Path("/etc/sspr/agent.state.json")) == Path(
        "/etc/sspr/agent.journal.jsonl"
    )


def test_a_command_is_two_appended_lines_and_a_new_reader_sees_its_end(tmp_path: Path) -> None:
    path = tmp_path / "agent.journal.jsonl"
    one = Journal(path)
    one.start("k1", "c1", "reset_password")
    assert Journal(path).get("k1") == {
        "command_id": "c1",
        "kind": "reset_password",
        "state": "started",
        "at": pytest.approx(Journal(path).get("k1")["at"]),  # type: ignore[index]
    }
    one.done("k1", "c1", "reset_password", RESULT)
    one.close()
    assert len(lines(path)) == 2
    again = Journal(path).get("k1")
    assert again is not None and again["state"] == "done" and again["result"] == RESULT
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_torn_last_line_is_skipped_and_the_entry_stays_started(tmp_path: Path) -> None:
    """The process died while writing "done": the command reads as interrupted, never as new."""
    path = tmp_path / "agent.journal.jsonl"
    one = Journal(path)
    one.start("k1", "c1", "unlock")
    one.close()
    with open(path, "a") as fh:
        fh.write('{"key": "k1", "state": "do')
    entry = Journal(path).get("k1")
    assert entry is not None and entry["state"] == "started"


def test_dead_lines_are_compacted_away_and_nothing_live_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "COMPACT_AFTER", 10)
    monkeypatch.setattr(journal, "MAX_ENTRIES", 20)
    path = tmp_path / "agent.journal.jsonl"
    one = Journal(path)
    for i in range(100):
        one.start(f"k{i:02}", f"c{i}", "reset_password")
        one.done(f"k{i:02}", f"c{i}", "reset_password", RESULT)
    # 200 lines were written; the file holds at most twice its live entries, and a margin.
    assert len(lines(path)) <= 2 * 20 + 10 + 1
    kept = Journal(path).entries()
    assert kept == one.entries() and "k99" in kept
    assert all(e["state"] == "done" for e in kept.values())
    one.close()


def test_beyond_the_cap_the_oldest_entries_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_ENTRIES", 20)
    path = tmp_path / "agent.journal.jsonl"
    one = Journal(path)
    for i in range(50):
        one.start(f"k{i:02}", f"c{i}", "unlock")
    one.close()
    kept = Journal(path).entries()
    assert len(kept) <= 20
    assert "k49" in kept and "k00" not in kept
    assert sorted(kept) == sorted(kept, key=lambda k: kept[k]["at"])


def test_a_state_file_of_the_earlier_format_gives_up_its_journal(tmp_path: Path) -> None:
    state_path = tmp_path / "agent.state.json"
    old = {"command_id": "c9", "kind": "reset_password", "state": "started", "at": 1e12}
    write_private(state_path, {"format": 1, "agent": {}, "journal": {"k9": old}, "sync": {}})
    store = StateStore(state_path)
    assert store.journal_get("k9") == old
    assert "journal" not in json.loads(state_path.read_text())
    assert StateStore(state_path).journal_get("k9") == old
