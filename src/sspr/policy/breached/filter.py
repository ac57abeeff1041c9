"""The offline breached-password filter: a Bloom filter over SHA-1 hashes, shipped with the product.

A Bloom filter answers "certainly not in the list" or "probably in the list": it never misses a
password that was put in (no false negatives), and says "probably" for a small, known share of
passwords that were not (false positives). Pure Python, standard library only.

What is in it
    The union of two lists of passwords from breach corpora that ship in packages with compatible
    licences: Django's common passwords (`django/contrib/auth/common-passwords.txt.gz`, BSD) and
    zxcvbn's password frequency list (the `passwords` list of the `zxcvbn` package, MIT), each
    stripped of surrounding white space. `scripts/build-breached-filter` builds the file and says
    more about the sources.

The shipped file (`src/sspr/policy/data/breached.bloom`)
    40,101 passwords in 768,744 bits with 13 hashes: 96,121 bytes on disk (96,093 bytes of bits
    and a 28-byte header).

False-positive rate
    Stated, from the parameters, (1 - e^(-k*n/m))^k: 0.0100 % (about 1 in 10,000) a lookup.
    Measured by tests/unit/test_breached_filter.py on 100,000 random passwords of 8 to 20
    printable ASCII characters (a fixed seed), none of them in the sources: 6 hits, 0.006 %.
    `is_breached` looks a mixed-case password up twice, as typed and in lower case (the source
    lists are in lower case), so its rate for such a password is about twice the stated one,
    0.02 %: measured 15 hits, 0.015 %, on the same 100,000. All well under the target of 0.1 %.

Lookup speed: one SHA-1 and 13 bit tests, about 5 µs a lookup and 14 µs for `is_breached`
(two lookups) on the development machine; the test demands under 50 µs.

File format (all integers big-endian)
    magic      8 bytes  b"SSPRBLM\\0"
    version    uint16   1
    hashes     uint16   k, the number of bit positions an item sets
    bits       uint64   m, the number of bits (a multiple of 8)
    items      uint64   n, the number of distinct passwords put in
    then m / 8 bytes of bits; bit i is (byte[i >> 3] >> (i & 7)) & 1.

Bit positions of an item
    d = SHA-1 of the password's UTF-8 bytes; h1 = d[0:8], h2 = d[8:16] as big-endian integers;
    then enhanced double hashing (Dillinger and Manolios): for i in 0..k-1, the position is
    h1 mod m, after which h1 += h2 and h2 += i + 1.
"""

from __future__ import annotations

import functools
import hashlib
import math
import struct
from collections.abc import Iterable
from pathlib import Path

MAGIC = b"SSPRBLM\0"
VERSION = 1
HEADER = struct.Struct(">8sHHQQ")
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "breached.bloom"
# The rate the shipped file is built for; the measured rate must stay under 0.1 %.
TARGET_FALSE_POSITIVE_RATE = 1e-4
_MASK64 = (1 << 64) - 1


class FilterFileError(ValueError):
    """The filter file is not one this code can read, or its contents disagree with its header."""


def password_sha1(password: str) -> bytes:
    """SHA-1 of the password's UTF-8 bytes; a lone surrogate (JSON allows one) passes through."""
    return hashlib.sha1(password.encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()


def parameters_for(items: int, false_positive_rate: float) -> tuple[int, int]:
    """The number of bits (a multiple of 8) and of hashes that hold `items` at the given rate."""
    if items < 1 or not 0 < false_positive_rate < 1:
        raise ValueError("need at least one item and a rate between 0 and 1")
    bits = math.ceil(-items * math.log(false_positive_rate) / math.log(2) ** 2)
    bits = max(64, (bits + 7) // 8 * 8)
    hashes = max(1, round(bits / items * math.log(2)))
    return bits, hashes


class BloomFilter:
    def __init__(
        self, bits: bytes | bytearray, num_bits: int, num_hashes: int, item_count: int
    ) -> None:
        if num_bits < 8 or num_bits % 8 or len(bits) != num_bits // 8:
            raise FilterFileError("the bit array does not match the number of bits")
        if not 1 <= num_hashes <= 64:
            raise FilterFileError("the number of hashes is out of range")
        self.bits = bits
        self.num_bits = num_bits
        self.num_hashes = num_hashes
        self.item_count = item_count

    @classmethod
    def empty(cls, items: int, false_positive_rate: float) -> BloomFilter:
        num_bits, num_hashes = parameters_for(items, false_positive_rate)
        return cls(bytearray(num_bits // 8), num_bits, num_hashes, 0)

    @classmethod
    def build(cls, passwords: Iterable[str], false_positive_rate: float) -> BloomFilter:
        """A filter holding every distinct password given, sized for their number."""
        distinct = set(passwords)
        built = cls.empty(max(1, len(distinct)), false_positive_rate)
        for password in sorted(distinct):
            built.add(password)
        return built

    def _positions(self, digest: bytes) -> list[int]:
        m = self.num_bits
        h1 = int.from_bytes(digest[0:8], "big")
        h2 = int.from_bytes(digest[8:16], "big")
        positions = []
        for i in range(self.num_hashes):
            positions.append(h1 % m)
            h1 = (h1 + h2) & _MASK64
            h2 = (h2 + i + 1) & _MASK64
        return positions

    def add(self, password: str) -> None:
        if not isinstance(self.bits, bytearray):
            raise TypeError("a loaded filter is read-only")
        for position in self._positions(password_sha1(password)):
            self.bits[position >> 3] |= 1 << (position & 7)
        self.item_count += 1

    def contains_digest(self, digest: bytes) -> bool:
        bits = self.bits
        return all(bits[p >> 3] >> (p & 7) & 1 for p in self._positions(digest))

    def __contains__(self, password: object) -> bool:
        return isinstance(password, str) and self.contains_digest(password_sha1(password))

    @property
    def false_positive_rate(self) -> float:
        """The expected share of non-members reported present: (1 - e^(-k*n/m))^k."""
        k, n, m = self.num_hashes, self.item_count, self.num_bits
        return float((1 - math.exp(-k * n / m)) ** k)

    def to_bytes(self) -> bytes:
        header = HEADER.pack(MAGIC, VERSION, self.num_hashes, self.num_bits, self.item_count)
        return header + bytes(self.bits)

    @classmethod
    def from_bytes(cls, data: bytes) -> BloomFilter:
        if len(data) < HEADER.size:
            raise FilterFileError("the file is shorter than its header")
        magic, version, num_hashes, num_bits, item_count = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise FilterFileError("not a breached-password filter")
        if version != VERSION:
            raise FilterFileError(f"filter version {version} is not supported")
        if num_bits % 8 or len(data) - HEADER.size != num_bits // 8:
            raise FilterFileError("the file's length does not match its number of bits")
        return cls(data[HEADER.size :], num_bits, num_hashes, item_count)

    @classmethod
    def load(cls, path: Path) -> BloomFilter:
        return cls.from_bytes(path.read_bytes())

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())


@functools.cache
def shipped_filter() -> BloomFilter:
    """The filter that ships with the product, read once a process."""
    return BloomFilter.load(DATA_FILE)


def is_breached(password: str) -> bool:
    """Whether the shipped filter holds the password, as typed or in lower case."""
    shipped = shipped_filter()
    if password in shipped:
        return True
    folded = password.lower()
    return folded != password and folded in shipped
