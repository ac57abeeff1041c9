from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "sspr.policy"
    label = "policy"
    verbose_name = "Policy"
