from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "sspr.access"
    label = "access"
    verbose_name = "Conditional access"
