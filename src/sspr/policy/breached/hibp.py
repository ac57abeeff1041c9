"""Have I Been Pwned's Pwned Passwords range API: the online breached-password lookup.

k-anonymity: only the first 5 hexadecimal characters of the password's SHA-1 leave this process,
as `GET {HIBP_BASE_URL}/range/{PREFIX}` with `Add-Padding: true`. The answer lists every known
hash with that prefix, one `SUFFIX:COUNT` a line (35 upper-case hexadecimal characters, a colon,
the number of times seen); the comparison with our own suffix happens here. With padding, the
service adds made-up suffixes with a count of 0 so that the answer's size tells an observer
nothing: those are ignored.

Answers are cached (Django's cache, by prefix, for an hour), so a repeated prefix costs no
second request. A network error, a timeout (HIBP_TIMEOUT, for connecting and for the whole
answer), or an answer other than 200 with well-formed lines raises BreachLookupUnavailable; the
caller decides between failing open and failing closed.

Logs name the prefix at most; never the password, its hash or its suffix. Standard library only;
redirects are not followed and plain HTTP is refused except to loopback (a local test receiver).
"""

from __future__ import annotations

import http.client
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.cache import cache

from sspr import __version__
from sspr.outbound import opener, secure_base
from sspr.policy.breached.filter import password_sha1

log = logging.getLogger(__name__)

CACHE_SECONDS = 3600
CACHE_PREFIX = "sspr:hibp:range:"
USER_AGENT = f"opensspr/{__version__} (breached-password check)"
# A padded answer is 800 to 1,000 lines of 40 bytes or so; anything far larger is not the API.
MAX_ANSWER_BYTES = 1024 * 1024
_LINE = re.compile(r"([0-9A-F]{35}):([0-9]+)")


class BreachLookupUnavailable(Exception):
    """The range API could not answer: network error, timeout, or an unexpected answer."""


def is_pwned(password: str) -> bool:
    """Whether the password appears in Pwned Passwords (a count above 0). May raise."""
    digest = password_sha1(password).hex().upper()
    prefix, suffix = digest[:5], digest[5:]
    return suffix in breached_suffixes(prefix)


def breached_suffixes(prefix: str) -> frozenset[str]:
    """The suffixes with a count above 0 under a 5-character prefix, from the cache or the API."""
    if not re.fullmatch(r"[0-9A-F]{5}", prefix):
        raise ValueError("the prefix is 5 upper-case hexadecimal characters")
    key = CACHE_PREFIX + prefix
    try:
        cached = cache.get(key)
    except Exception as error:  # noqa: BLE001 -- the cache saves a request; without it, ask
        log.warning("breach_cache_unavailable error=%s", type(error).__name__)
        cached = None
    if isinstance(cached, str):
        return frozenset(cached.split())
    suffixes = _fetch(prefix)
    try:
        cache.set(key, " ".join(sorted(suffixes)), CACHE_SECONDS)
    except Exception as error:  # noqa: BLE001 -- the answer stands without being kept
        log.warning("breach_cache_unavailable error=%s", type(error).__name__)
    return suffixes


def _fetch(prefix: str) -> frozenset[str]:
    base = str(settings.HIBP_BASE_URL).rstrip("/")
    timeout = float(settings.HIBP_TIMEOUT)
    if not secure_base(base):
        log.error("breach_lookup_misconfigured reason=base_url_not_https")
        raise BreachLookupUnavailable
    request = urllib.request.Request(  # noqa: S310 -- scheme checked above
        f"{base}/range/{prefix}",
        method="GET",
        headers={"Add-Padding": "true", "User-Agent": USER_AGENT, "Accept": "text/plain"},
    )
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            raw = _read_until(response, started + timeout)
    except urllib.error.HTTPError as error:
        log.warning("breach_lookup_unavailable prefix=%s status=%s", prefix, error.code)
        raise BreachLookupUnavailable from None
    except (OSError, ValueError) as error:  # URLError, timeouts, refused, bad URL
        reason = _reason(error)
        log.warning("breach_lookup_unavailable prefix=%s error=%s", prefix, reason)
        raise BreachLookupUnavailable from None
    if status != 200:
        log.warning("breach_lookup_unavailable prefix=%s status=%s", prefix, status)
        raise BreachLookupUnavailable
    try:
        return _parse(raw.decode("ascii"))
    except ValueError:
        log.warning("breach_lookup_unavailable prefix=%s error=unexpected_answer", prefix)
        raise BreachLookupUnavailable from None


def _read_until(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """The body, within the deadline (the socket timeout alone would allow a slow trickle)."""
    chunks: list[bytes] = []
    size = 0
    # read1: at most one receive a call, so the deadline is looked at between receives.
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ValueError("answer too large")
        if time.monotonic() > deadline:
            raise TimeoutError("answer too slow")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(text: str) -> frozenset[str]:
    suffixes = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise ValueError("not a SUFFIX:COUNT line")
        if int(match[2]) > 0:  # padding lines have a count of 0
            suffixes.add(match[1])
    return frozenset(suffixes)


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__
