"""Write the workbench's message catalogue (``api/ui/locale/<lang>/LC_MESSAGES/messages.po``) with Babel.

Usage: ``python scripts/catalogue.py TRANSLATIONS.json``: English msgids with their Finnish texts; every msgid found
in the templates and routers that is missing there is written untranslated (the test then names it)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parent.parent / "api" / "ui"
LITERAL = re.compile(r'(?:\b_|translate)\("((?:[^"\\]|\\.)+)"')


def msgids() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("templates/*.html"), *ROOT.glob("*.py"), *ROOT.glob("routes/*.py")]:
        found.update(m for m in LITERAL.findall(path.read_text()) if not m.endswith("_"))
    return found


def main() -> None:
    finnish: dict[str, str] = json.loads(Path(sys.argv[1]).read_text())
    for language, texts in (("fi", finnish), ("en", {})):
        catalog = Catalog(locale=language, project="kyc-screening workbench", charset="utf-8")
        for message in sorted(msgids() | set(finnish)):
            catalog.add(message, texts.get(message, ""))
        target = ROOT / "locale" / language / "LC_MESSAGES" / "messages.po"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            write_po(handle, catalog, width=120, omit_header=False, sort_output=True)


if __name__ == "__main__":
    main()
