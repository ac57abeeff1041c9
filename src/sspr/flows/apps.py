from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "sspr.flows"
    label = "flows"
    verbose_name = "Self-service flows"
