from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "sspr.cli"
    label = "cli"
    verbose_name = "Command line"
