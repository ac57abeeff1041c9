from django.apps import AppConfig


class MethodsConfig(AppConfig):
    name = "sspr.methods"
    label = "methods"
    verbose_name = "Verification methods"
