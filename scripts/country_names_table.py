"""Write ``kyc/country_names.tsv``, countrynames' country names (folded) and their ISO codes.

``python scripts/country_names_table.py`` after upgrading countrynames (a runtime dependency; a test fails while
the file and the installed package disagree). countrynames folds its 27,000 names in many languages with ICU the
first time it is asked anything, which takes most of a second: a ``kyc screen`` call meeting an organisation would
pay that on every run. The file keeps what ``kyc.countries`` looks up: the names that fold to ASCII, with
two-letter codes.
"""

from __future__ import annotations

from pathlib import Path

import countrynames

TARGET = Path(__file__).resolve().parent.parent / "kyc" / "country_names.tsv"


def table() -> dict[str, str]:
    countrynames.to_code("Finland")  # loads and folds the names
    names = countrynames.COUNTRY_NAMES
    return {name: names[name] for name in sorted(names) if len(names[name]) == 2 and name.isascii()}


def render(rows: dict[str, str]) -> str:
    return "".join(f"{name}\t{code}\n" for name, code in rows.items())


def main() -> None:
    rows = table()
    TARGET.write_text(render(rows), encoding="utf-8")
    print(f"{TARGET}: {len(rows)} names")


if __name__ == "__main__":
    main()
