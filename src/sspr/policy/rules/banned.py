"""Banned passwords, the way Microsoft Entra Password Protection judges them.

Microsoft documents the algorithm [concept-password-ban-bad]; this module follows it step by
step and writes down every place where the documentation leaves a choice open.

1. Normalise. Lower-case, then replace look-alike characters (NORMALISATION below). Microsoft
   lists four substitutions; we add two, the commonest digit-for-letter ones after `0`, `1`
   and `3`, each with a single reading in zxcvbn's l33t table (drawn from real passwords), and
   neither in any of Microsoft's worked examples:

       0→o  1→l  $→s  @→a   Microsoft's
       4→a  5→s             ours: p4ssw0rd, pa55word

   Left out on purpose:
   - `3→e`, `!→i`, `9→g`, `2→z`: Microsoft's examples print their normalised forms,
     `p0LL23fb → poll23fb` and `ContoS0Bl@nkf9! → contosoblankf9!`, and these would change
     them. `!` is nearly always the symbol added at the end, not an "i". A single `3` for `e`
     is still caught by fuzzy matching (`summ3r` is one edit from `summer`).
   - `7` (zxcvbn: "l or t"), `8`, `6`: digits are far more often digits; `77` read as `tt`
     made `Start-77` one edit from `tttt`.
   - `|→l`, `+→t`: both are used as separators in pass phrases, and reading them as letters
     joins the words (`Granite+Puffin` became `granitetpuffin`).
   Microsoft's own pages are not consistent about `1`: the table says `1→l`, and `P0l123fb`
   becomes `poll23fb`, yet `C0ntos0Blank12` is printed as `contosoblank12`. We follow the
   table; the score, 4, is the same either way. Lower-casing is done character by character
   so that position i of the normalised text is character i of what the user typed: messages
   quote the user's own characters, never the list's.

2. Fuzzy matching at edit distance 1, against the global list and the tenant's custom list. A
   term `t` matches the stretch `w` of the normalised password when `w == t`, or `w` is `t` with
   one character substituted, or with one character deleted, or with one character inserted
   strictly inside it. An insertion at either end is not a separate match: `blankf` contains
   `blank` itself, and counting the `f` as part of the match would give Microsoft's accepted
   example `ContoS0Bl@nkf9!` 4 points instead of its documented 5. So with `abcdef` banned,
   `abcdeg` (substitution) and `abcde` (deletion) match as wholes and `abcdefg` matches as
   `abcdef` + `g`. Nothing shorter than 4 characters ever matches (Entra: "only enforced for
   names, and other terms, that are at least four characters long"): a 4-character term is not
   matched by its 3-character deletions, which would otherwise catch "ass", "the", "and"...

3. Substring matching, exact after normalisation, of the user's first name, last name and
   account name (the UPN's local part), and of the tenant's name: each whole, and each word of
   it, when 4 characters or longer. `Pol` (3) is never checked.

4. Score. Every matched term counts 1 point, every other character 1 point; fewer than
   `min_score` (5) points and the password is refused. The matches that count are the set of
   non-overlapping ones giving the lowest score (the strictest reading; Microsoft's examples
   have only one reading). A term found twice counts twice (`blankblank`: 2 points).

   Microsoft's `p0LL23fb` example cannot be settled by the score: `[poll] + 2 + 3 + f + b` is
   5 points, yet the page says the password is refused for user Poll. Its `ContoS0Bl@nkf9!`
   example, at tenant Contoso, is accepted with `contoso` in it. The one reading that keeps
   both is ours: the user's own names and account name refuse the password outright (as
   Active Directory does with the account name), the tenant's name is scored like a banned
   term.

The global list (scripts/build-banned-list) holds about 20,000 base terms drawn from lists of
common passwords. Microsoft's examples assume lists of two terms; with ours, `ContoS0Bl@nkf9!`
scores 4, because `blankf` is one edit from `blanka`, itself a common password.

Speed: no edit-distance function runs per check. Each list is indexed once by its terms, by
each term with one character deleted (per position: a substitution leaves the same string as
the term when the same position is deleted from both), and by the first and last halves of its
terms (of two strings within one edit of each other, one half is intact), which turns away
most stretches of a password after two set look-ups. bench/password_engine.py measures it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from sspr.policy.rules.base import PasswordContext, PasswordRule, Violation
from sspr.policy.rules.base import gettext as _

NORMALISATION: dict[str, str] = {
    # Microsoft's documented substitutions.
    "0": "o",
    "1": "l",
    "$": "s",
    "@": "a",
    # Ours (see the module's docstring for why these and not others).
    "4": "a",
    "5": "s",
}
_TABLE = str.maketrans(NORMALISATION)

MIN_TERM_LENGTH = 4
MIN_SCORE = 5
SHIPPED_LIST = "data/banned-global.txt"

# Names are split into words on anything that is neither a letter nor a digit.
_WORD_BREAK = re.compile(r"[\W_]+")

# A match found while scoring: start, end, normalised term, source, exact.
_Hit = tuple[int, int, str, str, bool]


def normalise(text: str) -> str:
    """Lower-case, then the look-alike substitutions. Keeps the length: one character each."""
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few characters lower-case to two (İ → i̇); keep the first so positions still agree.
        lowered = "".join(char.lower()[0] for char in text)
    return lowered.translate(_TABLE)


def normalise_term(term: str) -> str:
    return normalise(term.strip())


class BannedList:
    """A list of banned terms, normalised and indexed for edit-distance-1 matching."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms: set[str] = set()
        # [i]: the term with character i deleted. A stretch one shorter than the term is that
        # deletion when it is found here; a stretch as long as the term, with its own character
        # i deleted, gives the same string exactly when the two differ at most at position i.
        self._without: list[dict[str, str]] = []
        # [n]: first and last halves of the terms a stretch of length n can match.
        self._heads: dict[int, set[str]] = {}
        self._tails: dict[int, set[str]] = {}
        # The longest stretch worth looking at: the longest term with one character inserted.
        self.longest_match = 0
        for term in sorted({normalise_term(term) for term in terms}):
            self.add(term)

    def add(self, term: str) -> None:
        """Add one term, normalised. For building lists: a shared list is never changed."""
        term = normalise_term(term)
        size = len(term)
        if size < MIN_TERM_LENGTH or term in self.terms:
            return
        self.terms.add(term)
        self.longest_match = max(self.longest_match, size + 1)
        while len(self._without) < size:
            self._without.append({})
        for i in range(size):
            rest = term[:i] + term[i + 1 :]
            self._without[i].setdefault(rest, term)
        for n in (size - 1, size, size + 1):
            if n >= MIN_TERM_LENGTH:
                half = n // 2
                self._heads.setdefault(n, set()).add(term[:half])
                self._tails.setdefault(n, set()).add(term[half - n :])

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and normalise_term(term) in self.terms

    def __repr__(self) -> str:
        return f"<BannedList of {len(self.terms)} terms>"

    @classmethod
    def shipped(cls) -> BannedList:
        """The global list shipped with the product (scripts/build-banned-list), loaded once."""
        return _shipped()

    def match(self, stretch: str) -> str | None:
        """The term `stretch` (already normalised) matches at edit distance 1, if any.

        An insertion at either end does not count: the term itself then matches a shorter
        stretch.
        """
        n = len(stretch)
        heads = self._heads.get(n)
        if heads is None:
            return None
        half = n // 2
        return self._match(stretch, stretch[:half] in heads, stretch[half:] in self._tails[n])

    def _match(self, stretch: str, head: bool, tail: bool) -> str | None:
        # `head`, `tail`: whether the first, the last half of the stretch is found among the
        # terms'. The half without the edit is intact, so the edit lies in the other one.
        n = len(stretch)
        half = n // 2
        if head and tail:
            if stretch in self.terms:
                return stretch
            low, high = 0, n
        elif tail:
            low, high = 0, half
        elif head:
            low, high = half, n
        else:
            return None
        without = self._without
        known = len(without)
        # The stretch is a term with character i deleted.
        for i in range(low, high + 1 if high < known else known):
            term = without[i].get(stretch)
            if term is not None:
                return term
        terms = self.terms
        for i in range(low, high):
            rest = stretch[:i] + stretch[i + 1 :]
            # One character substituted at i ...
            if i < known:
                term = without[i].get(rest)
                if term is not None:
                    return term
            # ... or inserted at i, inside the term.
            if 0 < i < n - 1 and rest in terms:
                return rest
        return None


@cache
def _shipped() -> BannedList:
    text = resources.files("sspr.policy").joinpath(SHIPPED_LIST).read_text(encoding="utf-8")
    return BannedList(text.split())


@lru_cache(maxsize=64)
def _custom(terms: tuple[str, ...]) -> BannedList:
    # A tenant's list changes rarely and is indexed once (7 ms, 1.4 MiB for 1,000 terms),
    # not at every check; the 64 lists used last are kept.
    return BannedList(terms)


@dataclass(frozen=True)
class BannedMatch:
    """One matched stretch of the password: [start, end) in the user's own characters.

    `fragment` and `term` are pieces of the password: show them to the person typing it, never
    log them (log the violation's code, reason and score).
    """

    start: int
    end: int
    # The normalised term: from the global list, the custom list, or a name.
    term: str
    # "global", "custom", "name" (the user's own names and account name) or "tenant".
    source: str
    # What the user typed there.
    fragment: str
    exact: bool = True


@dataclass(frozen=True)
class BannedVerdict:
    score: int
    min_score: int
    # The matches that make up the score (the lowest-scoring set of non-overlapping ones).
    matches: tuple[BannedMatch, ...] = ()
    # Every place the user's own names or account name appear.
    names: tuple[BannedMatch, ...] = ()

    @property
    def rejected(self) -> bool:
        return bool(self.names) or self.score < self.min_score

    @property
    def terms(self) -> list[str]:
        return [m.term for m in self.matches]


class BannedPasswordRule(PasswordRule):
    """Entra Password Protection: global and custom banned terms, names, and a points score."""

    code = "banned"

    def __init__(
        self,
        custom_terms: Sequence[str] = (),
        *,
        global_list: BannedList | None = None,
        min_score: int = MIN_SCORE,
    ) -> None:
        self.global_list = global_list if global_list is not None else BannedList.shipped()
        self.custom_list = _custom(tuple(str(term) for term in custom_terms))
        self.min_score = min_score

    def check(self, password: str, context: PasswordContext) -> list[Violation]:
        verdict = self.evaluate(password, context)
        if not verdict.rejected:
            return []
        params = {"score": verdict.score, "min_score": verdict.min_score}
        if verdict.names:
            quoted = _quote(m.fragment for m in verdict.names)
            return [
                Violation(
                    "password_banned",
                    _(
                        "This password is too easy to guess: it contains your name "
                        "(%(matched)s). Leave your name out of your password."
                    )
                    % {"matched": quoted},
                    {**params, "matched": [m.fragment for m in verdict.names], "reason": "name"},
                )
            ]
        if verdict.matches:
            quoted = _quote(m.fragment for m in verdict.matches)
            message = _(
                "This password is too easy to guess: it is built on a common or banned word "
                "(%(matched)s). Add more of your own characters."
            ) % {"matched": quoted}
        else:
            message = _("This password is too easy to guess. Add more of your own characters.")
        return [
            Violation(
                "password_banned",
                message,
                {**params, "matched": [m.fragment for m in verdict.matches], "reason": "score"},
            )
        ]

    def describe(self) -> str:
        return _("Not built on a common password, a banned word or your name.")

    def score(self, password: str, context: PasswordContext | None = None) -> int:
        return self.evaluate(password, context).score

    def matched_terms(self, password: str, context: PasswordContext | None = None) -> list[str]:
        """The normalised terms that count in the score, in the order they appear."""
        return self.evaluate(password, context).terms

    def evaluate(self, password: str, context: PasswordContext | None = None) -> BannedVerdict:
        context = context or PasswordContext()
        text = normalise(password)
        found: list[_Hit] = []
        self._find_terms(text, found)
        personal = _name_terms(
            context.given_name, context.family_name, context.upn.rpartition("@")[0] or context.upn
        )
        names = _find_exact(text, personal, "name", found)
        _find_exact(text, _name_terms(context.tenant_name), "tenant", found)
        score, chosen = _lowest_score(len(text), found)
        return BannedVerdict(
            score=score,
            min_score=self.min_score,
            matches=tuple(_match(password, hit) for hit in chosen),
            names=tuple(_match(password, hit) for hit in names),
        )

    def _find_terms(self, text: str, found: list[_Hit]) -> None:
        # Every stretch of 4 characters or more, turned away after two set look-ups per list
        # unless half of it begins or ends a term of a length it could match. The halves are
        # the text's substrings of one length each, cut once and shared by every stretch.
        lists = [
            (banned, source)
            for banned, source in ((self.custom_list, "custom"), (self.global_list, "global"))
            if banned.terms
        ]
        size = len(text)
        longest = min(size, max((banned.longest_match for banned, _ in lists), default=0))
        pieces: dict[int, list[str]] = {}
        matched: set[tuple[int, int]] = set()
        for n in range(MIN_TERM_LENGTH, longest + 1):
            half = n // 2
            heads_of = pieces.get(half)
            if heads_of is None:
                heads_of = pieces[half] = [text[i : i + half] for i in range(size - half + 1)]
            tails_of = pieces.get(n - half)
            if tails_of is None:
                rest = n - half
                tails_of = pieces[rest] = [text[i : i + rest] for i in range(size - rest + 1)]
            for banned, source in lists:
                heads = banned._heads.get(n)
                if heads is None:
                    continue
                tails = banned._tails[n]
                if heads.isdisjoint(heads_of) and tails.isdisjoint(tails_of):
                    continue
                for start in range(size - n + 1):
                    head = heads_of[start] in heads
                    tail = tails_of[start + half] in tails
                    if not (head or tail):
                        continue
                    end = start + n
                    if (start, end) in matched:
                        continue
                    stretch = text[start:end]
                    term = banned._match(stretch, head, tail)
                    if term is not None:
                        matched.add((start, end))
                        found.append((start, end, term, source, term == stretch))


@lru_cache(maxsize=4096)
def _name_terms(*names: str) -> tuple[str, ...]:
    # The same user's names come back at every check of a password form: split them once.
    terms: set[str] = set()
    for name in names:
        for word in (name, *_WORD_BREAK.split(name)):
            term = normalise_term(word)
            if len(term) >= MIN_TERM_LENGTH:
                terms.add(term)
    return tuple(sorted(terms))


def _find_exact(text: str, terms: tuple[str, ...], source: str, found: list[_Hit]) -> list[_Hit]:
    hits = []
    for term in terms:
        start = text.find(term)
        while start >= 0:
            hits.append((start, start + len(term), term, source, True))
            start = text.find(term, start + 1)
    found.extend(hits)
    return hits


def _lowest_score(size: int, found: list[_Hit]) -> tuple[int, list[_Hit]]:
    """Choose non-overlapping matches for the lowest score: 1 a match, 1 a character left over."""
    ending: dict[int, list[_Hit]] = {}
    for hit in found:
        ending.setdefault(hit[1], []).append(hit)
    best = [0] * (size + 1)
    step: list[_Hit | None] = [None] * (size + 1)
    for end in range(1, size + 1):
        best[end] = best[end - 1] + 1
        for hit in ending.get(end, ()):
            if best[hit[0]] + 1 < best[end]:
                best[end] = best[hit[0]] + 1
                step[end] = hit
    chosen: list[_Hit] = []
    end = size
    while end > 0:
        taken = step[end]
        if taken is None:
            end -= 1
        else:
            chosen.append(taken)
            end = taken[0]
    chosen.reverse()
    return best[size], chosen


def _match(password: str, hit: _Hit) -> BannedMatch:
    start, end, term, source, exact = hit
    return BannedMatch(start, end, term, source, password[start:end], exact)


def _quote(fragments: Iterable[str]) -> str:
    return ", ".join(f"“{fragment}”" for fragment in dict.fromkeys(fragments))
