"""Identifiers: a party's number equal to a listed one alerts whatever the names, on real list entries.

The fi_national entries are the national template filled with real UN-listed persons (no real fi_national file
exists); the henkilötunnus is python-stdnum's documented example code.
"""

from __future__ import annotations

from functools import cache

import pytest

from kyc import crypto
from kyc.entry import Entry, Identifier, Schema
from kyc.matching import Matcher, Query
from kyc.matching.identifiers import BUSINESS, PERSONAL, identifier_key, kinds_agree, query_kind
from kyc.screening import MatcherScreener
from kyc.storage.jobs import Party
from kyc.versions import RawFile
from lists.un_sc import UnScAdapter
from tests.support.env import list_file
from tests.support.fi_national import HETU, csv_bytes, organization_row, parse

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


@cache
def un_entries() -> tuple[Entry, ...]:
    path = list_file(UN_2026)
    return tuple(UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries)


@pytest.fixture
def national(good_rows: list[dict[str, str]]) -> list[Entry]:
    """The template with a henkilötunnus on its first (real UN) person, as KRP decisions on residents carry."""
    good_rows[0]["identifiers"] = f"fi_hetu:{HETU};" + good_rows[0]["identifiers"]
    return parse(csv_bytes(good_rows))


def _hits(entries: list[Entry], query: Query) -> list[tuple[str, float, str]]:
    matcher = Matcher.build([(1, e) for e in entries])
    return [(m.source_ref, m.score, m.explanation["features"]["identifier"]["detail"]) for m in matcher.screen(query)]


def test_henkilotunnus_alerts_on_a_party_with_another_name(national: list[Entry]) -> None:
    listed = national[0]
    assert ("fi_hetu", HETU) in [(i.type, i.number) for i in listed.identifiers]
    query = Query(name="Matti Virtanen", schema_="Person", identifiers=(HETU.lower().replace("-", " - "),))
    [(ref, score, reason)] = _hits(national, query)
    assert (ref, reason) == (listed.source_ref, "fi_hetu match") and score == pytest.approx(0.9, abs=1e-9)
    without = Query(name="Matti Virtanen", schema_="Person")
    assert _hits(national, without) == []


def test_business_id_in_its_vat_form_alerts(national: list[Entry]) -> None:
    organisation = next(e for e in national if e.schema_ is Schema.ORGANIZATION)
    assert organization_row()["identifiers"] == "fi_ytunnus:2077474-0"
    query = Query(name="Toinen Nimi Oy", schema_="Organization", identifiers=("FI20774740",))
    assert [ref for ref, _s, _d in _hits(national, query)] == [organisation.source_ref]
    assert identifier_key("FI20774740") == identifier_key("2077474-0") == "20774740"


def test_listed_passport_alerts_whatever_the_name() -> None:
    def passports(entry: Entry) -> list[Identifier]:
        return [i for i in entry.identifiers if i.type == "passport" and len(identifier_key(i.number)) >= 6]

    person = next(e for e in un_entries() if passports(e))
    passport = passports(person)[0]
    query = Query(name="Completely Different", schema_="Person", identifiers=(passport.number,))
    hits = _hits(list(un_entries()), query)
    assert [ref for ref, _s, _d in hits] == [person.source_ref]
    assert hits[0][1] >= 0.9


def test_a_personal_code_never_matches_a_listed_company_registration() -> None:
    """Digits that agree by chance across kinds are not evidence: the code's checksum says it is a person's."""
    company = next(e for e in un_entries() if e.schema_ is Schema.ORGANIZATION)
    listed = company.model_copy(update={"identifiers": (Identifier(type="registration", number=HETU),)})
    query = Query(name="Matti Virtanen", schema_="LegalEntity", identifiers=(HETU,))
    assert _hits([listed], query) == []
    as_national_id = company.model_copy(update={"identifiers": (Identifier(type="national_id", number=HETU),)})
    assert len(_hits([as_national_id], query)) == 1


@pytest.mark.parametrize(
    ("value", "kind"),
    [(HETU, PERSONAL), ("131052-308U", None), ("2077474-0", BUSINESS), ("FI20774740", BUSINESS), ("N123456", None)],
)
def test_query_kind_by_checksum(value: str, kind: str | None) -> None:
    assert query_kind(value) == kind


def test_kinds_agree_with_free_text_list_types() -> None:
    assert kinds_agree(PERSONAL, "National Identification Number")
    assert kinds_agree(PERSONAL, "fi_hetu") and kinds_agree(PERSONAL, "other")
    assert not kinds_agree(PERSONAL, "Registration ID")
    assert kinds_agree(BUSINESS, "fi_ytunnus") and kinds_agree(BUSINESS, "Business Registration Number")
    assert not kinds_agree(BUSINESS, "passport")
    assert kinds_agree(None, "passport")


def test_screening_a_party_compares_its_personal_identity_code(national: list[Entry]) -> None:
    """The stored code is encrypted: the screener decrypts it for the comparison."""
    screener = MatcherScreener(Matcher.build([(1, e) for e in national]))
    party = Party(
        role="representative",
        schema="Person",
        name="Matti Virtanen",
        personal_id_encrypted=crypto.encrypt(HETU),
    )
    assert [m.source_ref for m in screener.screen_party(party)] == [national[0].source_ref]
    party.personal_id_encrypted = None
    assert list(screener.screen_party(party)) == []
