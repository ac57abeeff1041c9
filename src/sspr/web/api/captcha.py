"""GET /captcha: a fresh ALTCHA proof-of-work challenge for the widget (captcha.js)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from sspr import captcha

router = Router(tags=["captcha"])


class CaptchaChallenge(Schema):
    algorithm: str = Field(description="Always SHA-256.")
    challenge: str = Field(description="Hex SHA-256 of salt + the secret number.")
    maxnumber: int = Field(description="The secret number is between 0 and this.")
    salt: str = Field(description="Hash input prefix; carries the expiry (expires=unix time).")
    signature: str = Field(description="Server HMAC of the challenge; submit it back unchanged.")


@router.get("/captcha", response=CaptchaChallenge, auth=None)
def new_captcha(request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    """A challenge valid for 10 minutes. Solve it and send base64(JSON {algorithm, challenge,
    number, salt, signature}) as `captcha` with the form; each solution is accepted once."""
    response["Cache-Control"] = "no-store"
    return captcha.new_challenge()
