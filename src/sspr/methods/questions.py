"""Security questions: answers kept only as Argon2id hashes of a normalised form.

Never for administrators. At reset a fresh random draw is made, and redrawn after a wrong answer.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sspr.directory.passwords import hash_password, verify_password
from sspr.errors import InvalidValue
from sspr.methods.base import Method
from sspr.methods.models import RegisteredMethod
from sspr.methods.question_list import PREDEFINED_QUESTIONS

MIN_ANSWER = 3
MAX_ANSWER = 40


def normalise_answer(answer: str) -> str:
    """Case, accents of width, and spacing do not matter: 'Paris ' equals 'paris'."""
    return " ".join(unicodedata.normalize("NFKC", answer).casefold().split())


def validate_answers(
    pairs: list[dict[str, str]], allowed_questions: list[str], count: int
) -> list[tuple[str, str]]:
    """The (question, answer) pairs, checked as Entra checks them."""
    if len(pairs) != count:
        raise InvalidValue(
            _("Answer exactly %(count)d security questions.") % {"count": count}, field="answers"
        )
    cleaned = []
    for pair in pairs:
        question = str(pair.get("question", "")).strip()
        answer = normalise_answer(str(pair.get("answer", "")))
        if question not in allowed_questions:
            raise InvalidValue(
                _("'%(question)s' is not one of the offered questions.")
                % {"question": question[:200]},
                field="answers",
            )
        if not MIN_ANSWER <= len(answer) <= MAX_ANSWER:
            raise InvalidValue(
                _("Each answer has %(min)d to %(max)d characters.")
                % {"min": MIN_ANSWER, "max": MAX_ANSWER},
                field="answers",
            )
        cleaned.append((question, answer))
    if len({q for q, _ in cleaned}) != len(cleaned):
        raise InvalidValue(_("Choose a different question for each answer."), field="answers")
    if len({a for _, a in cleaned}) != len(cleaned):
        raise InvalidValue(_("Give a different answer to each question."), field="answers")
    return cleaned


class QuestionsMethod(Method):
    name = "questions"
    label = gettext_noop("Security questions")
    for_admins = False

    def __init__(
        self, count_to_register: int = 3, count_to_reset: int = 3, custom: list[str] | None = None
    ) -> None:
        self.count_to_register = count_to_register
        self.count_to_reset = count_to_reset
        self.offered = [*PREDEFINED_QUESTIONS, *(custom or [])]

    def start_enrollment(
        self, registration: RegisteredMethod, payload: dict[str, Any]
    ) -> dict[str, Any]:
        pairs = validate_answers(
            list(payload.get("answers") or []), self.offered, self.count_to_register
        )
        registration.data = {
            "questions": [{"question": q, "answer_hash": hash_password(a)} for q, a in pairs]
        }
        registration.save(update_fields=["data"])
        return {}

    def finish_enrollment(self, registration: RegisteredMethod, payload: dict[str, Any]) -> bool:
        # Knowing the answers is the proof; nothing is sent to confirm.
        return True

    def _draw(self, available: list[str], scratch: dict[str, Any]) -> dict[str, Any]:
        count = min(self.count_to_reset, len(available))
        drawn = random.SystemRandom().sample(available, count)
        scratch["questions"] = drawn
        return {"questions": drawn}

    def challenge(
        self, registration: RegisteredMethod, binding: str, scratch: dict[str, Any]
    ) -> dict[str, Any]:
        return self._draw([q["question"] for q in registration.data.get("questions", [])], scratch)

    def decoy_challenge(self, hint: str, digest: bytes) -> dict[str, Any]:
        chooser = random.Random(digest)  # noqa: S311 -- stable decoys, not secrets
        return {"questions": chooser.sample(list(PREDEFINED_QUESTIONS), self.count_to_reset)}

    def verify(
        self,
        registration: RegisteredMethod,
        binding: str,
        payload: dict[str, Any],
        scratch: dict[str, Any],
    ) -> bool:
        drawn = list(scratch.get("questions") or [])
        given = {
            str(a.get("question", "")): str(a.get("answer", ""))
            for a in payload.get("answers") or []
            if isinstance(a, dict)
        }
        stored = {q["question"]: q["answer_hash"] for q in registration.data.get("questions", [])}
        # Check every answer, right or wrong, so that timing tells nothing of which one failed.
        results = [
            verify_password(stored.get(q, ""), normalise_answer(given.get(q, ""))) for q in drawn
        ]
        scratch.pop("questions", None)  # a fresh draw after any answer
        return bool(drawn) and all(results)

    def hint(self, registration: RegisteredMethod) -> str:
        return _("Security questions")

    def decoy_hint(self, digest: bytes, username: str) -> str:
        return _("Security questions")
