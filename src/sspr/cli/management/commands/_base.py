"""What every `sspr` command shares: domain errors become one clear line and exit status 2."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sspr.errors import DomainError


class SsprCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except DomainError as error:
            raise CommandError(f"{error.message} [{error.code}]", returncode=2) from None
