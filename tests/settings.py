"""Test settings: the real settings, on a data directory of the test run's own."""

import os
import tempfile

os.environ.setdefault("SSPR_DATA_DIR", tempfile.mkdtemp(prefix="sspr-test-"))

from sspr.settings import *  # noqa: E402,F403
