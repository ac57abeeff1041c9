from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "sspr.audit"
    label = "audit"
    verbose_name = "Audit"
