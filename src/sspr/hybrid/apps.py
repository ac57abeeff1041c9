from django.apps import AppConfig


class HybridConfig(AppConfig):
    name = "sspr.hybrid"
    label = "hybrid"
    verbose_name = "On-premises agents"
