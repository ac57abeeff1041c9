import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspr.settings")
django.setup(set_prefix=False)

from sspr.web.serving import PooledASGIHandler  # noqa: E402

application = PooledASGIHandler()

# Load the banned-password index now, so that no user's first request waits for it.
from sspr.policy.rules.banned import BannedList  # noqa: E402

BannedList.shipped()

# A serving process seals audit events in a thread of its own, off the requests' path; what is
# handed over is sealed before a clean exit.
import atexit  # noqa: E402

from sspr.audit import sealer  # noqa: E402

sealer.start_background()
atexit.register(sealer.stop)

# What is loaded by now (Django, the banned-password index) lives as long as the process: kept
# out of the garbage collector's full collections, which otherwise walk all of it again and
# again (pass-through sign-ins measured 7% less CPU, bench/hybrid.py).
import gc  # noqa: E402

gc.freeze()
