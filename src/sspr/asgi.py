import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspr.settings")
application = get_asgi_application()

# Load the banned-password index now, so that no user's first request waits for it.
from sspr.policy.rules.banned import BannedList  # noqa: E402

BannedList.shipped()

# A serving process seals audit events in a thread of its own, off the requests' path; what is
# handed over is sealed before a clean exit.
import atexit  # noqa: E402

from sspr.audit import sealer  # noqa: E402

sealer.start_background()
atexit.register(sealer.stop)
