"""Methods that send a one-time code to an address or number the user registered."""

from __future__ import annotations

from typing import Any

from sspr.methods import codes
from sspr.methods.base import Method
from sspr.methods.models import RegisteredMethod


class CodeMethod(Method):
    def deliver(self, to: str, code: str, purpose: str) -> None:
        raise NotImplementedError

    def _enrollment_binding(self, registration: RegisteredMethod) -> str:
        return f"enroll:{registration.pk}"

    def start_enrollment(
        self, registration: RegisteredMethod, payload: dict[str, Any]
    ) -> dict[str, Any]:
        code = codes.issue(self._enrollment_binding(registration), self.name)
        self.deliver(registration.value, code, "registration")
        return {"sent_to": self.hint(registration)}

    def finish_enrollment(self, registration: RegisteredMethod, payload: dict[str, Any]) -> bool:
        return codes.redeem(
            self._enrollment_binding(registration), self.name, str(payload.get("code", ""))
        )

    def send_code(self, registration: RegisteredMethod, binding: str, purpose: str) -> str:
        """Send a fresh code bound to `binding`; return the masked address it went to."""
        code = codes.issue(binding, self.name)
        self.deliver(registration.value, code, purpose)
        return self.hint(registration)

    def challenge(
        self, registration: RegisteredMethod, binding: str, scratch: dict[str, Any]
    ) -> dict[str, Any]:
        return {"sent_to": self.send_code(registration, binding, "reset")}

    def decoy_challenge(self, hint: str, digest: bytes) -> dict[str, Any]:
        return {"sent_to": hint}

    def verify(
        self,
        registration: RegisteredMethod,
        binding: str,
        payload: dict[str, Any],
        scratch: dict[str, Any],
    ) -> bool:
        return codes.redeem(binding, self.name, str(payload.get("code", "")))
