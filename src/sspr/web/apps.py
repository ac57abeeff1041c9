from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sspr.web"
    label = "web"
    verbose_name = "Web"
