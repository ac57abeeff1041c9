"""SQLite in write-ahead-log mode, switched on once per process rather than per connection.

WAL lets readers go on while one writer commits. The mode is stored in the database file, so
one `PRAGMA journal_mode=WAL` suffices; run with every new connection (a connection per request)
it was one of the costlier statements of a request.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

_done: set[str] = set()
_lock = threading.Lock()


def on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]
        return
    name = str(connection.settings_dict["NAME"])
    if name in _done:
        return
    with _lock:
        if name not in _done:
            connection.connection.execute("PRAGMA journal_mode=WAL")
            _done.add(name)
