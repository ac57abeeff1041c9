from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class AuditConfig(AppConfig):
    name = "sspr.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from sspr.audit import syslog

        # A mistyped receiver should stop the service at start-up, not lose every event.
        try:
            syslog.check_settings()
        except ValueError as error:
            raise ImproperlyConfigured(str(error)) from None
