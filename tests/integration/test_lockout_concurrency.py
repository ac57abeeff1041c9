"""Smart lockout holds when guesses arrive all at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from sspr.directory.lockout import THRESHOLD
from sspr.directory.models import Credential
from sspr.directory.signin import sign_in
from sspr.errors import DomainError


@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_wrong_guesses_get_no_more_than_ten_checks(
    tenant: Any, make_user: Any
) -> None:
    """However the guesses interleave, at most THRESHOLD of them reach the password check."""
    make_user(tenant, "target@contoso.com")

    def guess(i: int) -> str:
        try:
            sign_in(tenant, "target@contoso.com", f"Guess-{i:03d}-xY", Credential.Kind.API)
        except DomainError as refusal:
            return refusal.code
        finally:
            connection.close()
        return "signed_in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(guess, range(30)))
    assert outcomes.count("invalid_credentials") == THRESHOLD
    assert outcomes.count("account_locked") == 30 - THRESHOLD
