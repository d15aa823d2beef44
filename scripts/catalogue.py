"""Update the workbench's message catalogues (``api/ui/locale/<lang>/LC_MESSAGES/messages.po``) with Babel.

``python scripts/catalogue.py``: every msgid found in the templates and page routers is added to each catalogue
(untranslated when new: the catalogue test then names it), translations already there are kept. Translate by
editing the ``.po`` files; msgids that are keys (``tab_mine``, ``false_positive``) get their English text in
``en``."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "api" / "ui"
LITERAL = re.compile(r'(?:\b_|translate)\("((?:[^"\\]|\\.)+)"')


def msgids() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("templates/*.html"), *ROOT.glob("*.py"), *ROOT.glob("routes/*.py")]:
        found.update(m for m in LITERAL.findall(path.read_text()) if not m.endswith("_"))
    return found


def main() -> None:
    for language in ("fi", "en"):
        target = ROOT / "locale" / language / "LC_MESSAGES" / "messages.po"
        old: dict[str, str] = {}
        if target.exists():
            with target.open("rb") as handle:
                old = {str(m.id): str(m.string) for m in read_po(handle, locale=language) if m.id}
        catalog = Catalog(locale=language, project="kyc-screening workbench", charset="utf-8")
        for message in sorted(msgids() | set(old)):
            catalog.add(message, old.get(message, ""))
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            write_po(handle, catalog, width=120, sort_output=True)


if __name__ == "__main__":
    main()
