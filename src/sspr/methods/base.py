"""The one base class every verification method implements.

A method proves that the person at the keyboard holds something registered to the account. It
enrols (proving ownership before the registration counts), challenges, verifies, and shows a
masked hint. `scratch` is a small dict the caller stores with its flow, for methods that must
remember something between the challenge and the answer (the questions drawn).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sspr.methods.models import RegisteredMethod


class Method:
    name: ClassVar[str]
    # English, marked for translation: pages show gettext(label), the API and audit the English.
    label: ClassVar[str]
    # Security questions are never offered to administrators.
    for_admins: ClassVar[bool] = True
    # Methods that send something count against the delivery throttles.
    channel: ClassVar[str] = ""

    def normalise(self, value: str) -> str:
        """The registered value (address, number) in canonical form; raise InvalidValue if bad."""
        return ""

    def start_enrollment(
        self, registration: RegisteredMethod, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Begin proving ownership. Return what the user needs to finish (never a code)."""
        raise NotImplementedError

    def finish_enrollment(self, registration: RegisteredMethod, payload: dict[str, Any]) -> bool:
        raise NotImplementedError

    def challenge(
        self, registration: RegisteredMethod, binding: str, scratch: dict[str, Any]
    ) -> dict[str, Any]:
        """Send or pose the challenge for a gate bound to `binding`."""
        raise NotImplementedError

    def verify(
        self,
        registration: RegisteredMethod,
        binding: str,
        payload: dict[str, Any],
        scratch: dict[str, Any],
    ) -> bool:
        raise NotImplementedError

    def hint(self, registration: RegisteredMethod) -> str:
        raise NotImplementedError

    def decoy_hint(self, digest: bytes, username: str) -> str:
        """A hint as plausible as a real one, derived from a keyed hash of what was typed."""
        raise NotImplementedError

    def decoy_challenge(self, hint: str, digest: bytes) -> dict[str, Any]:
        """What `challenge` answers for someone who cannot reset: the same shape, nothing sent."""
        return {}
