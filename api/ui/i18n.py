"""The workbench's one message catalogue (gettext ``.po`` files, read with Babel): English and Finnish.

English is the source language (msgids); ``locale/fi/LC_MESSAGES/messages.po`` holds the Finnish texts. The
catalogues are read once per process; a msgid without a translation falls back to the English text.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po

LANGUAGES = ("en", "fi")
LOCALE_DIR = Path(__file__).parent / "locale"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in parsed if m.id and m.string and not m.fuzzy}


class Translate(Protocol):
    def __call__(self, message: str, **values: object) -> str: ...


def gettext(language: str) -> Translate:
    messages = catalogue(language if language in LANGUAGES else "en")

    def translate(message: str, **values: object) -> str:
        text = messages.get(message, message)
        return text.format(**values) if values else text

    return translate


def choose(requested: str | None, default: str) -> str:
    return requested if requested in LANGUAGES else (default if default in LANGUAGES else "en")


def when(moment: datetime | None, language: str) -> str:
    if moment is None:
        return "–"
    return format_datetime(moment, "yyyy-MM-dd HH:mm", tzinfo=None, locale=Locale.parse(language))
