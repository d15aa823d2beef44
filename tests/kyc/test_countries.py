"""Country names and codes to alpha-2, and the folded names behind Finnish and Swedish genitives (``Venäjän``)."""

from __future__ import annotations

import subprocess
import sys

import countrynames
import pytest
from countrynames.data import DATA

from kyc.countries import COUNTRY_NAMES_FILE, folded_country_names, to_countries, to_country
from kyc.matching.normalize import nordic_org_words
from tests.support.env import load_script


def test_the_file_is_what_the_installed_countrynames_gives() -> None:
    """An upgrade of countrynames that changes its names fails here until the file is written again."""
    generator = load_script("country_names_table")
    rows = generator.table()
    assert COUNTRY_NAMES_FILE.read_text(encoding="utf-8") == generator.render(rows)
    assert folded_country_names() == rows
    assert len(rows) > 15_000  # every language's names, not a sample


def test_genitives_are_read_from_the_file() -> None:
    assert nordic_org_words("venajan gazprom") == "ru gazprom"
    assert nordic_org_words("rysslands centralbank") == "ru centralbank"
    assert nordic_org_words("iranin keskuspankki") == "ir keskuspankki"
    assert nordic_org_words("nokia oyj") == "nokia oyj"


def test_screening_an_organisation_name_does_not_load_countrynames() -> None:
    """countrynames folds its whole table with ICU on first use: most of a second of a ``kyc screen`` call."""
    code = (
        "import sys\n"
        "from kyc.matching import name_form\n"
        "name_form('Venäjän Gazprom-konserni', 'Organization')\n"
        "names = sys.modules.get('countrynames')\n"
        "print(bool(names and names.COUNTRY_NAMES))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def _by_countrynames(text: str) -> str | None:
    code = countrynames.to_code(text.strip().strip(".").strip())
    return code.upper() if code is not None and len(code) == 2 else None


def test_to_country_answers_as_countrynames_does() -> None:
    """The file is a shortcut, never a second opinion: the names and codes of countrynames' data (every seventh, in any
    script, and every code) and a few that are none resolve as countrynames resolves them."""
    names = [name for names in DATA.values() for name in names]
    inputs = names[::7] + list(DATA)  # countrynames scans its whole table per call: a sample, not all 27,000
    inputs += ["FIN", "fi", "Finland.", " Suomi ", "SUHH", "Atlantis", "Russian Federation", "Côte d'Ivoire", "xx"]
    to_country.cache_clear()
    differ = [(text, to_country(text), _by_countrynames(text)) for text in inputs if text.strip()]
    differ = [row for row in differ if row[1] != row[2]]
    assert differ == []


@pytest.mark.parametrize(
    ("value", "codes"),
    [("(1) Germany. (2) Morocco", ["DE", "MA"]), ("Belarus / Bélarus", ["BY"]), ("Finland", ["FI"]), ("", [])],
)
def test_fields_naming_several_countries(value: str, codes: list[str]) -> None:
    assert to_countries(value) == codes
