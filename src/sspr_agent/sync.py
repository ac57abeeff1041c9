"""Full and delta sync: read the directory page by page, post SyncBatches of at most 1,000 objects.

- The directory's cursor is taken **before** reading: anything that changes during the read is
  newer than the cursor and comes again with the next delta (a duplicate is harmless, a miss is
  not).
- A full sync carries one random ``sync_id`` on all its batches and ``final`` on the last: the
  service then knows that anchors it did not see are gone. Intermediate batches carry no cursor;
  the last carries the one taken before reading.
- A delta's intermediate batches repeat the cursor it started from (the safe place to resume);
  its last batch carries the new one. A delta never says ``final`` (that would delete everything
  it did not mention).
- Resumable: progress is written to the state file after every acknowledged batch. An interrupted
  full sync resumes with the same ``sync_id`` and cursor and sends every page again (the service
  upserts by anchor, so a repeat costs time, never correctness; skipping pages could miss an
  object that moved between pages). An interrupted delta is simply read again from its cursor.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from queue import Full, Queue
from typing import Any

from sspr_agent.channel import Channel, ChannelError
from sspr_agent.config import StateStore
from sspr_agent.directory.base import Directory, Page
from sspr_protocol.messages import SyncBatch, fields_of

log = logging.getLogger("sspr_agent.sync")

BATCH_MAX = 1000
ERRORS_KEPT = 20
FULL = "full"
DELTA = "delta"


class SyncInterrupted(Exception):
    """The agent is stopping; the sync resumes at the next start."""


@dataclass
class SyncReport:
    sync_id: str
    mode: str
    cursor: str
    objects: int = 0
    batches: int = 0
    errors: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    status: str = "running"  # running, done, failed, interrupted

    @property
    def rate(self) -> float:
        elapsed = (self.finished_at or time.time()) - self.started_at
        return self.objects / elapsed if elapsed > 0 else float(self.objects)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rate"] = round(self.rate, 1)
        return data


def _size(page: Page) -> int:
    return len(page.users) + len(page.groups) + len(page.deleted_anchors)


def chunks(pages: Iterable[Page], limit: int = BATCH_MAX) -> Iterator[Page]:
    """Re-cut the directory's pages so that none holds more than `limit` objects."""
    for page in pages:
        if _size(page) <= limit:
            yield page
            continue
        items: list[tuple[str, Any]] = (
            [("u", u) for u in page.users]
            + [("g", g) for g in page.groups]
            + [("d", d) for d in page.deleted_anchors]
        )
        for start in range(0, len(items), limit):
            part = items[start : start + limit]
            yield Page(
                users=[x for k, x in part if k == "u"],
                groups=[x for k, x in part if k == "g"],
                deleted_anchors=[x for k, x in part if k == "d"],
            )


def read_ahead(pages: Iterable[Page], depth: int = 2) -> Iterator[Page]:
    """The same pages, read in a thread up to `depth` pages ahead: the directory is read while
    the service applies the previous page. An error of the read is raised here, in order; when
    the consumer stops early the reader stops at its next page."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    abandoned = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not abandoned.is_set():
            try:
                queue.put(item, timeout=0.2)
                return True
            except Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not put(("page", page)):
                    return
        except Exception as exc:  # noqa: BLE001 - raised again by the consumer, in order
            put(("error", exc))
            return
        put(("end", None))

    reader = threading.Thread(target=read, name="sspr-agent-sync-read", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        abandoned.set()
        reader.join(timeout=5)


def _with_last(items: Iterable[Page]) -> Iterator[tuple[Page, bool]]:
    iterator = iter(items)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for following in iterator:
        yield current, False
        current = following
    yield current, True


def count_errors(answer: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Per-object errors in the service's answer: ``{"errors": [...]}`` or a count."""
    errors = answer.get("errors")
    if isinstance(errors, list):
        listed = [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
        return len(listed), listed
    for key in ("errors", "error_count", "failed"):
        value = answer.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value, []
    counts = answer.get("counts")
    if isinstance(counts, dict):
        return count_errors(counts)
    return 0, []


class Syncer:
    def __init__(
        self,
        *,
        channel: Channel,
        state: StateStore,
        directory: Callable[[], Directory],
        batch_size: int = BATCH_MAX,
        progress: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._channel = channel
        self._state = state
        self._directory = directory
        self.batch_size = min(batch_size, BATCH_MAX)
        self._progress = progress
        self._stop = stop or threading.Event()

    # What to do.

    def initial_mode(self) -> tuple[str, str]:
        """(mode, cursor) at start. The service says where it stands (`GET sync/state`):

        - ``full``: a full sync (ours resumes under its sync_id if the state file has one);
        - ``delta`` from its cursor: what it has taken in is what counts. A full sync our state
          file still calls unfinished was finished on the service's side (its last answer was
          lost), so it is dropped.
        Without an answer from the service: resume our full sync, else a delta from our cursor,
        else a full sync.
        """
        local = self._state.snapshot()["sync"]
        in_progress = local.get("in_progress")
        resuming = isinstance(in_progress, dict) and in_progress.get("mode") == FULL
        try:
            remote = self._channel.sync_state()
        except ChannelError as exc:
            log.warning("agent.sync.state_unavailable: %s", exc)
            remote = {}
        if remote.get("mode") == FULL:
            return FULL, ""
        if remote.get("mode") == DELTA and remote.get("cursor"):
            if resuming:
                with self._state.update() as s:
                    s["sync"].pop("in_progress", None)
            return DELTA, str(remote["cursor"])
        if resuming:
            return FULL, ""
        cursor = str(local.get("cursor") or "")
        return (DELTA, cursor) if cursor else (FULL, "")

    def run(self, mode: str, cursor: str = "") -> SyncReport:
        """One sync. A delta without a cursor is a full sync."""
        if mode == DELTA:
            cursor = cursor or str(self._state.snapshot()["sync"].get("cursor") or "")
            if cursor:
                return self._delta(cursor)
        return self._full()

    # The two kinds.

    def _full(self) -> SyncReport:
        directory = self._directory()
        previous = self._state.snapshot()["sync"].get("in_progress")
        if isinstance(previous, dict) and previous.get("mode") == FULL and previous.get("sync_id"):
            report = SyncReport(
                str(previous["sync_id"]),
                FULL,
                str(previous.get("cursor", "")),
                started_at=time.time(),
            )
            log.info("agent.sync.resume sync_id=%s", report.sync_id)
        else:
            report = SyncReport(
                secrets.token_hex(16), FULL, directory.cursor(), started_at=time.time()
            )
        pages = chunks(directory.read_all(page_size=self.batch_size), self.batch_size)
        return self._send(report, pages, final_cursor=report.cursor, between_cursor="")

    def _delta(self, since: str) -> SyncReport:
        directory = self._directory()
        report = SyncReport(
            secrets.token_hex(16), DELTA, directory.cursor(), started_at=time.time()
        )
        pages = chunks(directory.read_changes(since, page_size=self.batch_size), self.batch_size)
        if report.cursor == since:
            # Nothing changed: no batch unless the directory still reports something.
            pages = (p for p in pages if _size(p))
        else:
            pages = _nonempty_or_one(pages)  # the service learns the new cursor
        return self._send(report, pages, final_cursor=report.cursor, between_cursor=since)

    def _send(
        self, report: SyncReport, pages: Iterable[Page], *, final_cursor: str, between_cursor: str
    ) -> SyncReport:
        full = report.mode == FULL
        self._begin(report)
        if full:
            pages = _nonempty_or_one(pages)  # a full sync always ends with a final batch
        try:
            for page, last in _with_last(read_ahead(pages)):
                if self._stop.is_set():
                    raise SyncInterrupted
                batch = SyncBatch(
                    sync_id=report.sync_id,
                    mode=report.mode,
                    users=[fields_of(u) for u in page.users],
                    groups=[fields_of(g) for g in page.groups],
                    deleted_anchors=list(page.deleted_anchors),
                    cursor=final_cursor if last else between_cursor,
                    final=full and last,
                )
                answer = self._channel.post_sync(batch)
                errors, listed = count_errors(answer)
                report.objects += _size(page)
                report.batches += 1
                report.errors += errors
                self._progress_saved(report, listed)
                self._say(report)
        except SyncInterrupted:
            report.status = "interrupted"
            self._finish(report, completed=False)
            raise
        except Exception as exc:
            report.status = "failed"
            self._finish(report, completed=False, error=_short(exc))
            raise
        report.status = "done"
        self._finish(report, completed=True)
        return report

    # The state file.

    def _begin(self, report: SyncReport) -> None:
        with self._state.update() as s:
            sync = s["sync"]
            if report.mode == FULL:
                sync["in_progress"] = report.as_dict()
            sync["current"] = report.as_dict()

    def _progress_saved(self, report: SyncReport, listed: list[dict[str, Any]]) -> None:
        with self._state.update() as s:
            sync = s["sync"]
            sync["current"] = report.as_dict()
            if report.mode == FULL:
                sync["in_progress"] = report.as_dict()
            if listed:
                kept = sync.setdefault("object_errors", [])
                kept.extend({k: str(v)[:200] for k, v in e.items()} for e in listed)
                del kept[:-ERRORS_KEPT]

    def _finish(self, report: SyncReport, *, completed: bool, error: str = "") -> None:
        report.finished_at = time.time()
        with self._state.update() as s:
            sync = s["sync"]
            sync.pop("current", None)
            sync["last_run"] = report.as_dict()
            if completed:
                sync["cursor"] = report.cursor
                sync[f"last_{report.mode}_at"] = report.finished_at
                sync[f"last_{report.mode}"] = report.as_dict()
                if report.mode == FULL:
                    sync.pop("in_progress", None)
        if error:
            self._state.record_error("sync", f"{report.mode} sync {report.sync_id[:8]}: {error}")
        quiet = completed and report.mode == DELTA and not report.batches
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "agent.sync.%s mode=%s sync_id=%s objects=%d batches=%d errors=%d rate=%.0f/s",
            report.status,
            report.mode,
            report.sync_id,
            report.objects,
            report.batches,
            report.errors,
            report.rate,
        )
        if not quiet:
            self._say(report, finished=True)

    def _say(self, report: SyncReport, finished: bool = False) -> None:
        if self._progress is None:
            return
        head = f"sync {report.mode} {report.sync_id[:8]}"
        line = (
            f"{head}: {report.objects} objects in {report.batches} batches "
            f"({report.rate:.0f}/s), {report.errors} errors"
        )
        if finished:
            line += f" — {report.status}"
        self._progress(line)


def _nonempty_or_one(pages: Iterable[Page]) -> Iterator[Page]:
    """The pages; or, when there are none, one empty page (to carry a cursor or `final`)."""
    seen = False
    for page in pages:
        seen = True
        yield page
    if not seen:
        yield Page(users=[], groups=[], deleted_anchors=[])


def _short(exc: BaseException) -> str:
    if isinstance(exc, ChannelError):
        return str(exc)
    # A directory's exception text could quote a filter or DN but never a password; keep it short.
    return f"{exc.__class__.__name__}: {str(exc)[:160]}"
