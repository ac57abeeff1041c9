"""The offline breached-password filter: the shipped file, its error rate, and the offline rule."""

from __future__ import annotations

import gzip
import math
import random
import string
import time
from pathlib import Path

import django
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sspr.policy.breached.filter import (
    DATA_FILE,
    HEADER,
    MAGIC,
    TARGET_FALSE_POSITIVE_RATE,
    VERSION,
    BloomFilter,
    FilterFileError,
    is_breached,
    parameters_for,
    shipped_filter,
)
from sspr.policy.rules.base import PasswordContext
from sspr.policy.rules.breached import BreachedPasswordRule

DJANGO_LIST = Path(django.__file__).parent / "contrib" / "auth" / "common-passwords.txt.gz"
# From zxcvbn's list and not Django's: proof that the second source went in, without zxcvbn.
ZXCVBN_ONLY = ["lifehack", "rt6ytere", "timelord", "firestar", "falcon01", "mopar440"]
SAMPLES = 100_000
# The figures the module docstring states; a rebuilt filter updates both.
MEASURED_HITS = 6
MEASURED_HITS_FOLDED = 15


def django_passwords() -> set[str]:
    with gzip.open(DJANGO_LIST, "rt", encoding="utf-8") as handle:
        passwords = {line.strip() for line in handle}
    passwords.discard("")
    return passwords


def random_passwords() -> list[str]:
    """100,000 passwords of 8 to 20 printable ASCII characters; the same ones every run."""
    rng = random.Random(20240611)
    alphabet = string.ascii_letters + string.digits + string.punctuation
    return ["".join(rng.choices(alphabet, k=rng.randint(8, 20))) for _ in range(SAMPLES)]


def test_the_shipped_file_loads_and_its_header_is_consistent() -> None:
    data = DATA_FILE.read_bytes()
    assert len(data) < 1024 * 1024 / 4  # well under 1 MB
    magic, version, hashes, bits, items = HEADER.unpack_from(data)
    assert (magic, version) == (MAGIC, VERSION)
    assert bits % 8 == 0 and len(data) == HEADER.size + bits // 8
    # Sized by the documented rule for the number of items it holds.
    assert (bits, hashes) == parameters_for(items, TARGET_FALSE_POSITIVE_RATE)
    assert items >= len(django_passwords()) + len(ZXCVBN_ONLY)
    loaded = shipped_filter()
    assert (loaded.num_bits, loaded.num_hashes, loaded.item_count) == (bits, hashes, items)
    assert loaded.false_positive_rate <= 2 * TARGET_FALSE_POSITIVE_RATE
    # About half the bits set is what an optimally sized filter looks like.
    ones = sum(bin(byte).count("1") for byte in loaded.bits)
    assert 0.45 < ones / bits < 0.55


def test_every_django_common_password_is_found() -> None:
    shipped = shipped_filter()
    missing = [p for p in django_passwords() if p not in shipped]
    assert missing == []


def test_zxcvbn_passwords_are_found() -> None:
    shipped = shipped_filter()
    assert all(p in shipped for p in ZXCVBN_ONLY)
    assert not set(ZXCVBN_ONLY) & django_passwords()


def test_every_zxcvbn_password_is_found_when_zxcvbn_is_installed() -> None:
    lists = pytest.importorskip("zxcvbn.frequency_lists")
    raw = lists.FREQUENCY_LISTS["passwords"]
    entries = {e.strip() for e in (raw.split(",") if isinstance(raw, str) else raw)} - {""}
    shipped = shipped_filter()
    assert [p for p in entries if p not in shipped] == []


def test_measured_false_positive_rate_is_under_a_tenth_of_a_percent() -> None:
    shipped = shipped_filter()
    known = django_passwords()
    samples = [p for p in random_passwords() if p not in known and p.lower() not in known]
    assert len(samples) == SAMPLES
    hits = sum(p in shipped for p in samples)
    folded_hits = sum(is_breached(p) for p in samples)
    assert hits / SAMPLES <= 0.001
    assert folded_hits / SAMPLES <= 0.001
    # Roughly the stated rate: within five standard deviations of the expected count.
    expected = shipped.false_positive_rate * SAMPLES
    assert abs(hits - expected) <= 5 * math.sqrt(expected) + 1
    mixed = sum(p != p.lower() for p in samples)
    expected_folded = shipped.false_positive_rate * (SAMPLES + mixed)
    assert abs(folded_hits - expected_folded) <= 5 * math.sqrt(expected_folded) + 1
    # The docstring's measured figures are these very counts.
    assert (hits, folded_hits) == (MEASURED_HITS, MEASURED_HITS_FOLDED)


def test_a_lookup_takes_under_50_microseconds() -> None:
    shipped_filter()
    samples = random_passwords()[:20_000]
    started = time.perf_counter()
    for password in samples:
        is_breached(password)
    each = (time.perf_counter() - started) / len(samples)
    assert each < 50e-6


def test_mixed_case_forms_of_a_listed_password_are_found() -> None:
    assert "password1" in shipped_filter()
    assert is_breached("Password1")
    assert is_breached("PASSWORD1")
    assert not is_breached("k7#Vq9!mWz2@pL")


@settings(max_examples=50, deadline=None)
@given(st.sets(st.text(min_size=1, max_size=24), min_size=1, max_size=300))
def test_a_freshly_built_filter_has_no_false_negatives(items: set[str]) -> None:
    built = BloomFilter.build(items, 0.01)
    assert built.item_count == len(items)
    assert all(item in built for item in items)
    reloaded = BloomFilter.from_bytes(built.to_bytes())
    assert all(item in reloaded for item in items)


@given(st.text(max_size=40))
def test_lone_surrogates_do_not_break_a_lookup(password: str) -> None:
    is_breached(password + "\ud800")


def test_damaged_files_are_refused() -> None:
    good = DATA_FILE.read_bytes()
    with pytest.raises(FilterFileError):
        BloomFilter.from_bytes(good[:10])
    with pytest.raises(FilterFileError):
        BloomFilter.from_bytes(good[:-1])
    with pytest.raises(FilterFileError):
        BloomFilter.from_bytes(b"NOTBLOOM" + good[8:])
    with pytest.raises(FilterFileError):
        BloomFilter.from_bytes(good[:8] + (VERSION + 1).to_bytes(2, "big") + good[10:])


def test_a_loaded_filter_is_read_only() -> None:
    with pytest.raises(TypeError):
        shipped_filter().add("anything")


def test_the_rule_offline_rejects_a_breached_password_and_accepts_a_random_one() -> None:
    rule = BreachedPasswordRule()
    found = rule.check("Password123", PasswordContext())
    assert [v.code for v in found] == ["password_breached"]
    assert "data breach" in found[0].message
    assert rule.check("k7#Vq9!mWz2@pL", PasswordContext()) == []
    assert rule.code == "breached"
    assert rule.describe() == "Not a password known from data breaches."
