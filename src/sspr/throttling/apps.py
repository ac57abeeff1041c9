from django.apps import AppConfig


class ThrottlingConfig(AppConfig):
    name = "sspr.throttling"
    label = "throttling"
    verbose_name = "Throttling"
