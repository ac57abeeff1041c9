"""The language of a request: the end user's choice, the browser's wish, or English.

The administration pages are written in English only for now. They run in English whatever the
browser asks, so that a page never mixes languages (rule texts, form errors) and an email an
administrator's action sends is in the same language as the page it came from.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

_ENGLISH_ONLY = re.compile(r"^/t/[^/]+/admin/")


def english_only(request: HttpRequest) -> bool:
    return bool(_ENGLISH_ONLY.match(request.path_info))


class LocaleMiddleware(DjangoLocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if english_only(request):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if english_only(request):
            response.headers.setdefault("Content-Language", settings.LANGUAGE_CODE)
            return response
        return super().process_response(request, response)


def language_choices(request: HttpRequest) -> dict[str, Any]:
    """The languages the switcher on every end-user page offers, the current one marked."""
    if english_only(request):
        return {"language_choices": []}
    current = translation.get_language()
    return {
        "language_choices": [
            {"code": code, "name": name, "current": code == current}
            for code, name in settings.LANGUAGES
        ]
    }
