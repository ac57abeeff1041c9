from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "sspr.directory"
    label = "directory"
    verbose_name = "Directory"
