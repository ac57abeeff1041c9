from __future__ import annotations

from django.db import connection
from django.http import HttpRequest
from ninja import Router, Status

from sspr import __version__
from sspr.web.api.schemas import Health

router = Router(tags=["health"])


@router.get("/health", response={200: Health, 503: Health}, auth=None)
def health(request: HttpRequest) -> Status[dict[str, str]]:
    """Liveness and database reachability, for load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:  # noqa: BLE001 -- any failure means "not ready"
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return Status(
        status,
        {
            "status": "ok" if status == 200 else "unavailable",
            "version": __version__,
            "database": database,
        },
    )
