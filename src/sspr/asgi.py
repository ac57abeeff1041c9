import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspr.settings")
application = get_asgi_application()

# Load the banned-password index now, so that no user's first request waits for it.
from sspr.policy.rules.banned import BannedList  # noqa: E402

BannedList.shipped()
