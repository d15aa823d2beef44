from __future__ import annotations

import io
import re
import zipfile

import pytest

from kyc.entry import Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.versions import ListRejected, ParsedList, RawFile
from lists import ofac_xml
from lists.base import ParseError
from lists.ingest import ingest_files
from lists.ofac import OfacConsAdapter, OfacSdnAdapter
from lists.ofac_common import parse_remarks, person_name
from tests.support.env import list_file

SDN_2024 = "ofac_sdn/2024-05-03_jackdwyer/sdn.csv"
BENCH = "ofac_sdn/2021-07_watchman_bench"
COMPANIONS = "ofac_sdn/2025-12_watchman_companions"
SDN_XML = "ofac_sdn_xml/excerpt_2018-12-19_DarkSide666.xml"
CONS = "ofac_non_sdn/2025-12_watchman"
CONS_CSV = [f"{CONS}/cons_prim.csv", f"{CONS}/cons_add.csv", f"{CONS}/cons_alt.csv", f"{CONS}/cons_comments.csv"]
CONS_XML = "ofac_non_sdn/2026-01-08_pakote_data/ofac.xml"
CONS_ZIP = "ofac_non_sdn/2025-01-10_watchman/CONS_ENHANCED.ZIP"


def raw(relative: str) -> RawFile:
    path = list_file(relative)
    return RawFile(path.name, path.read_bytes())


def sdn(*relative: str) -> ParsedList:
    return OfacSdnAdapter().parse([raw(r) for r in relative])


def cons(*relative: str) -> ParsedList:
    return OfacConsAdapter().parse([raw(r) for r in relative])


def by_ref(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


@pytest.fixture(scope="module")
def sdn_2024() -> dict[str, Entry]:
    return by_ref(sdn(SDN_2024))


@pytest.fixture(scope="module")
def cons_csv() -> dict[str, Entry]:
    return by_ref(cons(*CONS_CSV))


# --- legacy CSV -------------------------------------------------------------------------------------------------


def test_sdn_2024_counts_match_sources_md(sdn_2024: dict[str, Entry]) -> None:
    entries = list(sdn_2024.values())
    assert len(entries) == 14965
    schemas = [e.schema_ for e in entries]
    assert schemas.count(Schema.PERSON) == 6854
    assert schemas.count(Schema.ORGANIZATION) == 6884
    assert schemas.count(Schema.VESSEL) == 851
    assert schemas.count(Schema.AIRCRAFT) == 376
    assert max(int(ref) for ref in sdn_2024) == 48907


def test_individual_remarks_become_fields(sdn_2024: dict[str, Entry]) -> None:
    mnangagwa = sdn_2024["7513"]
    assert mnangagwa.schema_ == Schema.PERSON
    assert mnangagwa.primary_name == "Emmerson Dambudzo MNANGAGWA"
    assert [d.date for d in mnangagwa.birth_dates] == ["1946-09-15", "1942-09-15"]  # DOB + alt. DOB
    assert mnangagwa.birth_places == ("Zvishavane, Zimbabwe",)
    assert mnangagwa.nationalities == ("ZW",)
    assert mnangagwa.gender == "male"
    passport = next(i for i in mnangagwa.identifiers if i.number == "AD005831")
    assert (passport.type, passport.country, passport.note) == (
        "passport",
        "ZW",
        "issued 11 Jan 2018 expires 10 Jan 2028",
    )
    assert any(
        i.type == "national_id" and i.number == "63450183P67" and i.country == "ZW" for i in mnangagwa.identifiers
    )
    assert [n.value for n in mnangagwa.names if n.kind == NameKind.WEAK_ALIAS] == ["CROCODILE"]
    assert mnangagwa.programs == ("GLOMAG",)
    # citizen + alt. citizen count as nationalities; a Hong Kong ID keeps its issuing place.
    wong = sdn_2024["9340"]
    assert wong.nationalities == ("CN", "KH")
    assert len(wong.birth_dates) == 6
    assert any(i.number == "D489833(9)" and i.country == "HK" for i in wong.identifiers)
    zawahiri = sdn_2024["2676"]
    assert zawahiri.primary_name == "Dr. Ayman AL ZAWAHIRI"
    assert zawahiri.birth_places == ("Giza, Egypt",)
    assert {(i.number, i.country) for i in zawahiri.identifiers} == {("1084010", "EG"), ("19820215", None)}


def test_dob_ranges_and_circa(sdn_2024: dict[str, Entry]) -> None:
    ranged = sdn_2024["12057"].birth_dates
    assert (ranged[0].date, ranged[0].end) == ("1951", "1953")
    assert sdn_2024["7782"].birth_dates[0].date == "1951" and sdn_2024["7782"].birth_dates[0].approximate


def test_vessels_aircraft_and_programs(sdn_2024: dict[str, Entry]) -> None:
    ebano = sdn_2024["4243"]
    assert ebano.schema_ == Schema.VESSEL
    assert any(i.type == "imo" and i.number == "7406784" for i in ebano.identifiers)
    assert ebano.countries == ("PA",)  # Vess_flag Panama
    assert {n.value for n in ebano.names if n.kind == NameKind.WEAK_ALIAS} == {"ANA I", "SAND SWAN"}
    mar_azul = sdn_2024["4238"]
    assert any(i.type == "call_sign" and i.number == "CL2192" for i in mar_azul.identifiers)
    assert mar_azul.countries == ("CU",)
    assert mar_azul.remarks is not None and "Owner: Samir de Navegacion S.A." in mar_azul.remarks
    aircraft = sdn_2024["15431"]
    assert aircraft.schema_ == Schema.AIRCRAFT
    assert any(i.type == "aircraft_msn" and i.number == "1023409321" for i in aircraft.identifiers)
    assert [(r.kind, r.other_name) for r in aircraft.relations] == [("associate", "POUYA AIR")]  # "Linked To: ..."
    assert sdn_2024["4632"].programs == ("IRAN", "SDGT", "IRGC", "IFSR")  # "IRAN] [SDGT] [IRGC] [IFSR"
    assert sdn_2024["2686"].programs == ("SDGT", "SYRIA")
    assert sdn_2024["306"].schema_ == Schema.ORGANIZATION  # SDN_Type "-0- "
    assert [n.value for n in sdn_2024["306"].names if n.kind == NameKind.WEAK_ALIAS] == ["BNC"]


def test_individual_names_in_natural_order(sdn_2024: dict[str, Entry]) -> None:
    assert sdn_2024["2674"].primary_name == "Abu ABBAS"
    assert "Feliciano Semborio DELOS REYES Jr." in {e.primary_name for e in sdn_2024.values()}
    # Entity names keep their commas.
    assert sdn_2024["173"].primary_name == "ANGLO-CARIBBEAN CO., LTD."
    assert all(", " not in n.value for e in sdn_2024.values() if e.schema_ == Schema.PERSON for n in e.names[:1])


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def test_null_literal_and_eof_byte_never_leak(sdn_2024: dict[str, Entry]) -> None:
    null_token = re.compile(r"(?<![\w-])-0-(?![\w-])")  # "CH-217-0-431" (a real US FEIN) is not a NULL
    for entry in sdn_2024.values():
        for text in _strings(entry.to_data()):
            assert not null_token.search(text), (entry.source_ref, text)
            assert "\x1a" not in text, entry.source_ref


def test_bench_set_joins_aliases_and_addresses() -> None:
    entries = by_ref(sdn(f"{BENCH}/sdn.csv", f"{BENCH}/add.csv", f"{BENCH}/alt.csv"))
    assert len(entries) == 8976
    aero = entries["36"]
    assert [(n.value, n.kind) for n in aero.names] == [
        ("AEROCARIBBEAN AIRLINES", NameKind.PRIMARY),
        ("AERO-CARIBBEAN", NameKind.STRONG_ALIAS),
    ]
    assert aero.addresses == ("Havana, Cuba",)
    assert aero.countries == ("CU",)
    assert entries["173"].addresses == ("Ibex House, The Minories, London EC3N 1DY, United Kingdom",)
    # alt.csv: 11910 rows; every alias is strong, including fka/nka, and no NULL survives.
    strong = [n for e in entries.values() for n in e.names if n.kind == NameKind.STRONG_ALIAS]
    assert len(strong) > 11000
    assert all(n.value != "-0-" for n in strong)


def test_add_and_alt_without_sdn_csv_are_rejected() -> None:
    files = [raw(f"{COMPANIONS}/add.csv"), raw(f"{COMPANIONS}/alt.csv"), raw(f"{COMPANIONS}/sdn_comments.csv")]
    with pytest.raises(ParseError, match=r"sdn\.csv is required"):
        OfacSdnAdapter().parse(files)


def test_cons_csv_counts_and_comments_continuation(cons_csv: dict[str, Entry]) -> None:
    assert len(cons_csv) == 442
    assert sum(e.schema_ == Schema.PERSON for e in cons_csv.values()) == 79
    assert sum(e.schema_ == Schema.ORGANIZATION for e in cons_csv.values()) == 363
    # cons_prim cuts 30930's remarks after "... (USCC) 91110000710934369E "; cons_comments continues "(China); a.k.a.
    # 'CCCC'." - the identifier's country and the weak alias exist only if the pieces are joined exactly.
    cccc = cons_csv["30930"]
    assert cccc.remarks is not None and "91110000710934369E (China); a.k.a. 'CCCC'." in cccc.remarks
    assert any(i.type == "uscc" and i.number == "91110000710934369E" and i.country == "CN" for i in cccc.identifiers)
    assert [n.value for n in cccc.names if n.kind == NameKind.WEAK_ALIAS] == ["CCCC"]
    # A continuation that starts mid-word ("...the 'Effec" + "tive Date ...").
    assert cons_csv["17016"].remarks is not None
    assert "'Effective Date (EO 14024 Directive)' associated with this name" in cons_csv["17016"].remarks


def test_cons_csv_and_xml_produce_comparable_entries(cons_csv: dict[str, Entry]) -> None:
    parsed = cons(CONS_XML)
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2026-01-08"
    xml = by_ref(parsed)
    assert set(xml) == set(cons_csv)
    for ref, entry in cons_csv.items():
        other = xml[ref]
        assert (entry.schema_, entry.primary_name, entry.birth_dates) == (
            other.schema_,
            other.primary_name,
            other.birth_dates,
        ), ref
        assert entry.nationalities == other.nationalities and entry.gender == other.gender, ref
    haniya = xml["9639"]
    assert haniya.primary_name == "Ismail Abdul Salah HANIYA"
    assert {n.value for n in haniya.names if n.kind == NameKind.STRONG_ALIAS} == {"Ismail HANIYA", "Ismaeel HANIYYA"}
    # XML weak aliases: category="weak"; a person's weak alias comes as "ZAHAR, Mahmoud" and is put in order.
    assert {n.value for n in xml["9647"].names if n.kind == NameKind.WEAK_ALIAS} == {
        "Mahmoud ZAHAR",
        "Mahmoud AL-ZAHAR",
    }
    # "1026303117642 (Russia)" in idNumber: the country is split off as in the CSV remarks.
    assert any(i.number == "1026303117642" and i.country == "RU" for i in xml["17064"].identifiers)


def test_sdn_xml_old_namespace_excerpt() -> None:
    parsed = sdn(SDN_XML)
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2018-12-19"
    entries = by_ref(parsed)
    assert set(entries) == {"36", "26235"}
    malkevich = entries["26235"]
    assert malkevich.primary_name == "Alexander Aleksandrovich MALKEVICH"
    assert malkevich.gender == "male"  # idType "Gender" is not an identifier
    assert {(i.type, i.number, i.country) for i in malkevich.identifiers} == {
        ("passport", "717637093", "RU"),
        ("national_id", "781005202108", None),
    }
    assert [d.date for d in malkevich.birth_dates] == ["1975-06-14"]
    assert malkevich.birth_places == ("Leningrad, Russia",)
    assert malkevich.countries == ("RU",)
    assert entries["36"].names[1].value == "AERO-CARIBBEAN" and entries["36"].names[1].kind == NameKind.STRONG_ALIAS


def test_enhanced_zip_resolves_reference_values() -> None:
    parsed = cons(CONS_ZIP)
    assert len(parsed.entries) == 443
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2025-01-10"
    entries = by_ref(parsed)
    zahar = entries["9647"]
    assert zahar.nationalities == ("PS",)  # Nationality Country feature -> refId 91021 -> isoCode PS
    assert zahar.gender == "male"
    assert zahar.relations[0].other_ref == "4695" and zahar.relations[0].other_name == "HAMAS"
    assert {n.value for n in zahar.names if n.kind == NameKind.WEAK_ALIAS} == {"Mahmoud ZAHAR", "Mahmoud AL-ZAHAR"}
    vtb = entries["17013"]
    assert any(i.type == "registration" and i.number == "1027739609391" and i.country == "RU" for i in vtb.identifiers)
    assert any(n.kind == NameKind.ORIGINAL_SCRIPT for n in vtb.names)  # Cyrillic translation
    assert entries["9639"].birth_dates[0].date == "1962"


def test_zip_over_the_size_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ofac_xml, "MAX_UNZIPPED_BYTES", 1_000_000)  # the real member inflates to 3.4 MB
    with pytest.raises(ParseError, match=r"CONS_ENHANCED\.ZIP: CONS_ENHANCED\.XML inflates to 3420879 bytes"):
        cons(CONS_ZIP)


def test_zip_whose_header_understates_its_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("SDN_ENHANCED.XML", b"<sanctionsData>" + b" " * 3_000_000 + b"</sanctionsData>")
    data = bytearray(buffer.getvalue())
    # Patch the declared size (local header offset 22, central directory entry) down to 100 bytes.
    for offset in (22, data.rfind(b"PK\x01\x02") + 24):
        data[offset : offset + 4] = (100).to_bytes(4, "little")
    monkeypatch.setattr(ofac_xml, "MAX_UNZIPPED_BYTES", 1_000_000)
    # Reading stops at the declared size, so the member is refused as corrupt instead of being inflated.
    with pytest.raises(ParseError, match=r"bomb\.zip: SDN_ENHANCED\.XML is corrupt"):
        OfacSdnAdapter().parse([RawFile("bomb.zip", bytes(data))])


# --- rejections -------------------------------------------------------------------------------------------------


def test_truncated_csv_is_rejected_naming_the_file() -> None:
    data = list_file(SDN_2024).read_bytes()
    row_start = data.index(b"\r\n7513,") + 2
    inside_quotes = data[: row_start + 40]  # cut in the middle of the name field
    after_a_comma = data[: data.index(b'"individual",', row_start) + len(b'"individual",')]
    for cut in (inside_quotes, after_a_comma):
        with pytest.raises(ParseError, match=r"sdn\.csv: line \d+"):
            OfacSdnAdapter().parse([RawFile("sdn.csv", cut)])


def test_malformed_xml_is_rejected_naming_the_file() -> None:
    data = list_file(CONS_XML).read_bytes()
    with pytest.raises(ParseError, match=r"ofac\.xml: malformed XML"):
        OfacConsAdapter().parse([RawFile("ofac.xml", data[: len(data) // 2])])
    with pytest.raises(ParseError, match="DOCTYPE"):
        OfacConsAdapter().parse([RawFile("ofac.xml", b'<!DOCTYPE x [<!ENTITY a "b">]><sdnList/>')])
    with pytest.raises(ParseError, match="expected <sdnList>"):
        OfacConsAdapter().parse([RawFile("other.xml", b"<CONSOLIDATED_LIST/>")])


def test_file_sets_must_be_consistent() -> None:
    with pytest.raises(ParseError, match="either a CSV file set or one XML"):
        OfacConsAdapter().parse([raw(CONS_XML), raw(f"{CONS}/cons_prim.csv")])
    with pytest.raises(ParseError, match="belongs to the ofac_cons list"):
        OfacSdnAdapter().parse([raw(f"{CONS}/cons_prim.csv")])
    with pytest.raises(ParseError, match="second primary file"):
        OfacSdnAdapter().parse([raw(SDN_2024), raw(f"{BENCH}/sdn.csv")])


def test_unknown_csv_names_are_recognised_by_content() -> None:
    renamed = [RawFile(f"download-{i}.csv", raw(path).data) for i, path in enumerate(CONS_CSV)]
    assert len(OfacConsAdapter().parse(renamed).entries) == 442


def test_remark_and_name_helpers() -> None:
    facts = parse_remarks(
        "DOB circa 1960; alt. DOB 01 Jan 1961 to 31 Dec 1962; nationality Korea, North; "
        "Digital Currency Address - XBT 1AbC9; Vessel Registration Identification IMO 9187629; Gender Female.",
        person=True,
    )
    assert [(d.date, d.end, d.approximate) for d in facts.birth_dates] == [
        ("1960", None, True),
        ("1961-01-01", "1962-12-31", False),
    ]
    assert facts.nationalities == ["KP"]
    assert [(i.type, i.number, i.note) for i in facts.identifiers] == [
        ("crypto_wallet", "1AbC9", "XBT"),
        ("imo", "9187629", None),
    ]
    assert facts.gender == "female"
    assert person_name("AL-ZAWAHIRI, Dr. Ayman") == "Dr. Ayman AL-ZAWAHIRI"
    assert person_name("MADONNA") == "MADONNA"


# --- ingestion --------------------------------------------------------------------------------------------------


def test_ingest_cons_xml(settings: Settings) -> None:
    result = ingest_files("ofac_cons", [list_file(CONS_XML)], settings)
    assert result.outcome == "stored" and result.entry_count == 442


def test_ingest_cons_csv_set_and_enhanced_zip(settings: Settings) -> None:
    first = ingest_files("ofac_cons", [list_file(p) for p in CONS_CSV], settings)
    assert first.entry_count == 442
    second = ingest_files("ofac_cons", [list_file(CONS_ZIP)], settings)
    assert second.entry_count == 443 and second.version_id != first.version_id


def test_ingest_rejects_companions_without_sdn_csv(settings: Settings) -> None:
    with pytest.raises(ListRejected, match=r"ofac_sdn: rejected: sdn\.csv is required"):
        ingest_files("ofac_sdn", [list_file(f"{COMPANIONS}/add.csv"), list_file(f"{COMPANIONS}/alt.csv")], settings)


@pytest.mark.slow
def test_ingest_full_sdn_2024(settings: Settings) -> None:
    result = ingest_files("ofac_sdn", [list_file(SDN_2024)], settings)
    assert result.outcome == "stored" and result.entry_count == 14965
