"""The built-in methods by name. Adding a method is a module and a line here."""

from __future__ import annotations

from sspr.errors import InvalidValue
from sspr.methods.base import Method
from sspr.methods.email import EmailMethod
from sspr.methods.office_phone import OfficePhoneMethod
from sspr.methods.questions import QuestionsMethod
from sspr.methods.sms import SmsMethod
from sspr.methods.totp import TotpMethod
from sspr.methods.voice import VoiceMethod
from sspr.policy.models import SsprPolicy

METHOD_CLASSES: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (EmailMethod, SmsMethod, VoiceMethod, OfficePhoneMethod, TotpMethod, QuestionsMethod)
}


def method_for(name: str, policy: SsprPolicy) -> Method:
    """The method called `name`, configured by the tenant's policy."""
    cls = METHOD_CLASSES.get(name)
    if cls is None:
        raise InvalidValue(
            f"Unknown method '{name[:32]}'; the methods are {', '.join(METHOD_CLASSES)}.",
            field="method",
        )
    if cls is QuestionsMethod:
        return QuestionsMethod(
            policy.questions_to_register, policy.questions_to_reset, list(policy.custom_questions)
        )
    return cls()
