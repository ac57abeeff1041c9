"""Test settings: the real settings, on a data directory of the test run's own."""

import os
import tempfile

os.environ.setdefault("SSPR_DATA_DIR", tempfile.mkdtemp(prefix="sspr-test-"))

from sspr.settings import *  # noqa: F403

# A file, not shared-cache memory, so that concurrent tests see SQLite's real locking.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
