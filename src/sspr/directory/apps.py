from django.apps import AppConfig
from django.db.backends.signals import connection_created


class DirectoryConfig(AppConfig):
    name = "sspr.directory"
    label = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from sspr.sqlite_wal import on_connection_created

        connection_created.connect(on_connection_created, dispatch_uid="sspr-sqlite-wal")
