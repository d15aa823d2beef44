from __future__ import annotations

from collections.abc import Callable

import pytest

from kyc.entry import DatePrecision, Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ListRejected, ParsedList, RawFile, active_version, changes, load_entries
from lists.base import ParseError
from lists.eu_fsf import EuFsfAdapter
from lists.ingest import ingest_files, ingest_url
from tests.support.env import list_file
from tests.support.httpserver import serve_files

MUGABE_1_1 = "eu_fsf/excerpt_2018-12-21_DarkSide666.xml"
SADDAM_1_1 = "eu_fsf/excerpt_2024-12-11_TureBentzin.xml"
LEGACY = "eu_fsf/legacy_1_0_sample_2016-02-11/data.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


def parse_bytes(data: bytes, name: str = "eu.xml") -> ParsedList:
    return EuFsfAdapter().parse([RawFile(name, data)])


def parse(relative: str) -> ParsedList:
    return parse_bytes(list_file(relative).read_bytes())


def by_ref(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


@pytest.fixture(scope="module")
def legacy() -> ParsedList:
    return parse(LEGACY)


def test_counts_match_sources_md(legacy: ParsedList) -> None:
    mugabe, saddam = parse(MUGABE_1_1), parse(SADDAM_1_1)
    assert [e.source_ref for e in mugabe.entries] == ["1", "207"]
    assert [e.schema_ for e in mugabe.entries] == [Schema.PERSON, Schema.ORGANIZATION]
    assert mugabe.file_format == saddam.file_format == "eu_fsf_xml_1_1"
    assert mugabe.published_at is not None and mugabe.published_at.isoformat() == "2018-12-21T14:39:54.511000+01:00"
    assert [e.source_ref for e in saddam.entries] == ["13"]
    assert saddam.published_at is not None and saddam.published_at.isoformat().startswith("2024-12-11T21:24:35")
    # Legacy 1.0 sample: 595 ENTITY (319 P / 276 E), WHOLE Date="11/02/2016".
    assert len(legacy.entries) == 595
    assert sum(e.schema_ == Schema.PERSON for e in legacy.entries) == 319
    assert sum(e.schema_ == Schema.ORGANIZATION for e in legacy.entries) == 276
    assert legacy.file_format == "eu_fsf_xml_1_0"
    assert legacy.published_at is not None and legacy.published_at.date().isoformat() == "2016-02-11"


def test_mugabe_in_1_1_with_passport_and_eu_reference() -> None:
    mugabe = by_ref(parse(MUGABE_1_1))["1"]
    assert mugabe.primary_name == "Robert Gabriel Mugabe"
    assert mugabe.gender == "male"
    assert [d.date for d in mugabe.birth_dates] == ["1924-02-21"]
    passport = next(i for i in mugabe.identifiers if i.type == "passport")
    assert passport.number == "AD001095" and passport.country is None  # countryIso2Code="00" is unknown
    assert any(i.type == "eu_reference_number" and i.number == "EU.36.64" for i in mugabe.identifiers)
    assert mugabe.programs == ("ZWE",)
    assert [p.role for p in mugabe.positions] == ["Former President"]
    assert mugabe.un_ref is None  # unitedNationId=""


def test_organisation_translations_keep_their_language() -> None:
    ibda = by_ref(parse(MUGABE_1_1))["207"]
    assert len(ibda.names) == 19  # 19 nameAlias in 17 languages
    assert ibda.primary_name == "İslami Büyük Doğu Akıncılar Cephesi"
    assert "IBDA-C" in {n.value for n in ibda.names if n.kind == NameKind.STRONG_ALIAS}
    bulgarian = next(n for n in ibda.names if n.lang == "bg")
    assert bulgarian.value == "Фронт на великите ислямски източни воини"
    assert any(i.type == "eu_reference_number" and i.number == "EU.3523.13" for i in ibda.identifiers)
    assert ibda.programs == ("TERR",)


def test_saddam_hussein_in_1_1() -> None:
    saddam = by_ref(parse(SADDAM_1_1))["13"]
    assert saddam.primary_name == "Saddam Hussein Al-Tikriti"
    assert [d.date for d in saddam.birth_dates] == ["1937-04-28"]
    assert saddam.nationalities == ("IQ",)
    assert saddam.birth_places == ("al-Awja, near Tikrit, IRAQ",)
    assert {(n.value, n.lang) for n in saddam.names} >= {("Abu Ali", None), ("Abou Ali", "fr")}
    assert saddam.remarks == "UNSC RESOLUTION 1483"
    assert saddam.listed_on == "2003-07-08"
    # The excerpt's start tag lacks euReferenceNumber (SOURCES.md): no invented identifier.
    assert not any(i.type == "eu_reference_number" for i in saddam.identifiers)


def test_legacy_1_0_uses_the_same_keys_and_values(legacy: ParsedList) -> None:
    entries = by_ref(legacy)
    mugabe, saddam = entries["1"], entries["13"]
    assert mugabe.primary_name == "Robert Gabriel Mugabe"
    assert [(i.type, i.number) for i in mugabe.identifiers] == [("passport", "AD001095")]
    assert mugabe.listed_on == "2002-09-13"  # the earliest act cited for the entity
    assert [p.role for p in mugabe.positions] == ["President"]  # "President" and "president"
    assert [d.date for d in saddam.birth_dates] == ["1937-04-28"]
    assert saddam.nationalities == ("IQ",)  # CITIZEN COUNTRY "IRQ"
    assert "Abou Ali" in {n.value for n in saddam.names}
    assert saddam.remarks == "UNSC RESOLUTION 1483"
    assert entries["207"].primary_name == "Great Islamic Eastern Warriors Front"


def test_legacy_approximate_years_and_ranges(legacy: ParsedList) -> None:
    entries = by_ref(legacy)
    agha = entries["516"]  # <DATE>1958 - 1963 (approximative)</DATE>
    assert [(d.date, d.end, d.approximate) for d in agha.birth_dates] == [("1958", "1963", True)]
    assert agha.birth_dates[0].precision == DatePrecision.RANGE
    tikriti = entries["25"]
    assert (tikriti.birth_dates[0].date, tikriti.birth_dates[0].approximate) == ("1957", True)
    dates = [d for e in legacy.entries for d in e.birth_dates]
    assert sum(d.approximate for d in dates) > 100
    documents = [i for e in legacy.entries for i in e.identifiers]
    assert all(" (" not in i.number for i in documents)  # "AD001095 (passport-National passport) ..." is split


def _set(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    return lambda data: data.replace(old, new, 1)


@pytest.mark.parametrize(
    ("mutate", "check"),
    [
        (
            _set(
                b'strong="true" regulationLanguage="en" logicalId="19"',
                b'strong="false" regulationLanguage="en" logicalId="19"',
            ),
            lambda e: [n.value for n in e.names if n.kind == NameKind.WEAK_ALIAS] == ["Abu Ali"],
        ),
        (_set(b'unitedNationId=""', b'unitedNationId="IQi.001"'), lambda e: e.un_ref == "IQi.001"),
        (
            _set(b'birthdate="1937-04-28" dayOfMonth="28" monthOfYear="4"', b'dayOfMonth="" monthOfYear=""'),
            lambda e: [d.date for d in e.birth_dates] == ["1937"],
        ),
        (
            _set(b'circa="false"', b'circa="true"'),
            lambda e: e.birth_dates[0].approximate and e.birth_dates[0].date == "1937-04-28",
        ),
    ],
)
def test_1_1_attributes_that_the_excerpts_leave_empty(
    mutate: Callable[[bytes], bytes], check: Callable[[Entry], bool]
) -> None:
    data = list_file(SADDAM_1_1).read_bytes()
    mutated = mutate(data)
    assert mutated != data
    assert check(parse_bytes(mutated).entries[0])


@pytest.mark.parametrize(
    ("relative", "mutate", "reason"),
    [
        (MUGABE_1_1, lambda d: d[: len(d) // 2], r"^eu\.xml: malformed XML"),
        (LEGACY, lambda d: d[:-200], r"^eu\.xml: malformed XML"),
        (
            MUGABE_1_1,
            _set(b'logicalId="207"', b""),
            r"^eu\.xml: a sanctionEntity \(euReferenceNumber EU\.3523\.13\) has no",
        ),
        (
            MUGABE_1_1,
            _set(b"fpi/fsd/export", b"fpi/fsd/other"),
            r"^eu\.xml: root element is <\{http://eu\.europa\.ec/fpi/fsd/other\}export>",
        ),
        (LEGACY, _set(b'Type="P"', b'Type="X"'), r"^eu\.xml: ENTITY 1: unknown Type 'X'"),
        (LEGACY, _set(b'<WHOLE Date="11/02/2016">', b'<WHOLE Date="yesterday">'), r"^eu\.xml: WHOLE@Date 'yesterday'"),
        (SADDAM_1_1, _set(b"<export ", b'<!DOCTYPE x [<!ENTITY a "b">]><export '), r"^eu\.xml: DOCTYPE/ENTITY"),
        (UN_2026, lambda d: d, r"^eu\.xml: root element is <CONSOLIDATED_LIST>"),
    ],
)
def test_malformed_input_is_rejected_naming_the_file(
    relative: str, mutate: Callable[[bytes], bytes], reason: str
) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_bytes(mutate(list_file(relative).read_bytes()))


def test_ingest_through_ingest_files(settings: Settings) -> None:
    result = ingest_files("eu_fsf", [list_file(LEGACY)], settings)
    assert (result.outcome, result.entry_count) == ("stored", 595)
    # Two entities instead of 595: rejected as a shrink, the 1.0 version stays active ...
    with pytest.raises(ListRejected, match="eu_fsf: rejected: suspicious shrink"):
        ingest_files("eu_fsf", [list_file(MUGABE_1_1)], settings)
    # ... unless forced; then the diff across formats is by logicalId: both entities changed, 593 removed.
    forced = ingest_files("eu_fsf", [list_file(MUGABE_1_1)], settings, allow_shrink=True)
    assert (forced.outcome, forced.added, forced.removed, forced.changed) == ("stored", 0, 593, 2)
    with transaction(settings.database_url) as session:
        version = active_version(session, "eu_fsf")
        assert version is not None and version.id == forced.version_id
        stored = {e.source_ref: e for e in load_entries(session, version.id)}
        assert {c.source_ref for c in changes(session, version.id) if c.change == "changed"} == {"1", "207"}
    assert any(i.number == "AD001095" for i in stored["1"].identifiers)


def test_ingest_from_a_url_shaped_like_the_official_one(settings: Settings) -> None:
    """The official URL ends in ``content?token=...``: no file name to go by, the root element decides."""
    path = "content?token=dG9rZW4tMjAxNw"
    with serve_files({path: list_file(LEGACY)}) as server:
        result = ingest_url("eu_fsf", settings, server.url(path))
        assert result is not None and (result.outcome, result.entry_count) == ("stored", 595)
        assert ingest_url("eu_fsf", settings, server.url(path)) is None  # 304 Not Modified
        assert server.statuses == [200, 304]
