"""Every spelling a list gives becomes a name of its own, without shredding names that only look bundled."""

from __future__ import annotations

from functools import cache

import pytest

from bench.name_fields import BEFORE, FILES, Bundled, count, parse
from kyc.entry import Entry, Name, NameKind, Schema
from kyc.matching import Matcher, Query
from lists.names import fold_confusables, listed_names, split_name
from tests.support.env import LISTS

PERSON, ORG = Schema.PERSON, Schema.ORGANIZATION


def split(value: str, schema: Schema = PERSON, kind: NameKind = NameKind.STRONG_ALIAS) -> list[tuple[str, str]]:
    return [(n.value, n.kind.value) for n in split_name(Name(value=value, kind=kind), schema)]


def test_original_script_with_latin_variants() -> None:
    assert split("حسن غول (Hassan Ghul; Hassan Gul; Hasan Gul)") == [
        ("حسن غول", "original_script"),
        ("Hassan Ghul", "strong_alias"),
        ("Hassan Gul", "strong_alias"),
        ("Hasan Gul", "strong_alias"),
    ]
    assert split("Abou Mouhadjir (ابو مهاجر)") == [("Abou Mouhadjir", "strong_alias"), ("ابو مهاجر", "original_script")]
    assert split("Muhamadmuhtar (original script: Мухамадмухтар)", kind=NameKind.WEAK_ALIAS) == [
        ("Muhamadmuhtar", "weak_alias"),
        ("Мухамадмухтар", "original_script"),
    ]
    # no parentheses: a Latin name followed by the same name in Arabic script
    assert split("Agha Jan Alizai اغا جان عالیزی") == [
        ("Agha Jan Alizai", "strong_alias"),
        ("اغا جان عالیزی", "original_script"),
    ]


def test_hts_acronym_original_script_and_every_variant() -> None:
    value = (
        "Hay’at Tahrir al-Sham (HTS) (هيئة تحرير الشام (original script); Hay’at Tahrir al-Sham; Hay’et Tahrir "
        "al-Sham; Hayat Tahrir al-Sham; Assembly for the Liberation of Syria; "
        "Assembly for the Liberation of the Levant; Liberation of al-Sham Commission; "
        "Liberation of the Levant Organisation Tahrir al-Sham; Tahrir al-Sham Hay’at)"
    )
    names = dict(split(value, ORG))
    assert names["HTS"] == "weak_alias"
    assert names["هيئة تحرير الشام"] == "original_script"
    assert names["Assembly for the Liberation of Syria"] == "strong_alias"
    assert names["Tahrir al-Sham Hay’at"] == "strong_alias"
    assert len(names) == 10
    assert not any("(" in name or ";" in name for name in names)


def test_semicolons_enumerations_and_person_variants() -> None:
    assert [v for v, _ in split("Mohammed Sabet; Mohammad Sabet b) M. Javad Kareemi Sabet; M. Jawad Karimi Sabet")] == [
        "Mohammed Sabet",
        "Mohammad Sabet",
        "M. Javad Kareemi Sabet",
        "M. Jawad Karimi Sabet",
    ]
    assert [v for v, _ in split("Ahmad (Ahmed) SANTOS", kind=NameKind.PRIMARY)] == ["Ahmad SANTOS", "Ahmed SANTOS"]
    assert [v for v, _ in split("Lom-ali Butayev (Butaev)")] == ["Lom-ali Butayev", "Lom-ali Butaev"]


def test_remarks_in_parentheses_leave_the_name() -> None:
    assert split("Encep Nurjaman (birth name)") == [("Encep Nurjaman", "strong_alias")]
    assert split("Ezatullah Haqqani (previously listed as)") == [("Ezatullah Haqqani", "strong_alias")]
    assert split("EL PARA (COMBAT NAME)") == [("EL PARA", "strong_alias")]
    assert split("ኤርሚኣስ ግርማይ (Tigrinya)", kind=NameKind.ORIGINAL_SCRIPT) == [("ኤርሚኣስ ግርማይ", "original_script")]
    assert split(
        "Ri'ad Muhammad Hasan Muhammad Hijazi (Previously listed as. In Arabic: رياض محمد حسن محمد الحجازي)"
    ) == [
        ("Ri'ad Muhammad Hasan Muhammad Hijazi", "strong_alias"),
        ("رياض محمد حسن محمد الحجازي", "original_script"),
    ]


def test_acronyms_become_weak_aliases_only_when_they_abbreviate_the_name() -> None:
    assert split("HAQQANI NETWORK (HQN)", ORG, NameKind.PRIMARY) == [
        ("HAQQANI NETWORK", "primary"),
        ("HQN", "weak_alias"),
    ]
    assert split("ISLAMIC STATE IN IRAQ AND THE LEVANT - KHORASAN (ISIL-K)", ORG)[1] == ("ISIL-K", "weak_alias")
    assert split("ADF (ALLIED DEMOCRATIC FORCES)", ORG, NameKind.PRIMARY) == [
        ("ADF", "weak_alias"),
        ("ALLIED DEMOCRATIC FORCES", "primary"),
    ]
    # an acronym inside the name leaves it; it names only the part before it
    assert split("INDUSTRIAL FACTORIES OF PRECISION (IFP) MACHINERY", ORG) == [
        ("INDUSTRIAL FACTORIES OF PRECISION MACHINERY", "strong_alias")
    ]


def test_no_over_splitting() -> None:
    # comma-ordered persons and organisations with commas stay whole
    assert split("Al-Maghribi, Rashid") == [("Al-Maghribi, Rashid", "strong_alias")]
    assert split("OCEAN MARITIME MANAGEMENT COMPANY, LIMITED (OMM)", ORG, NameKind.PRIMARY) == [
        ("OCEAN MARITIME MANAGEMENT COMPANY, LIMITED", "primary"),
        ("OMM", "weak_alias"),
    ]
    assert split("Far East Trading Company, Inc.", ORG) == [("Far East Trading Company, Inc.", "strong_alias")]
    assert split("GRUPO EMPRESARIAL EPTA, S.A. DE C.V.", ORG) == [
        ("GRUPO EMPRESARIAL EPTA, S.A. DE C.V.", "strong_alias")
    ]
    # a place or legal form in parentheses is part of the name: alone it would alert on every company there
    for whole in ("AERO CONTINENTE (USA) INC.", "AL-HARAMAIN (ALBANIA BRANCH)", "PJSC VTB BANK (KIEV)",
                  "TING SHING TAI JEWELLERY (HK) CO. LIMITED", "ASIA ENERGY GENERAL TRADING (LLC)"):  # fmt: skip
        assert split(whole, ORG) == [(whole, "strong_alias")], whole
    # Latin names inside a Bulgarian or Greek translation are one name
    assert split("Организация Abu Nidal", ORG) == [("Организация Abu Nidal", "strong_alias")]
    assert split("генерал Nkunda") == [("генерал Nkunda", "strong_alias")]
    # an a.k.a. group keeps the legal form with its name
    assert [v for v, _ in split("Far East Trading Company, Inc. (a.k.a. FETCO, Inc.)", ORG)] == [
        "Far East Trading Company, Inc.",
        "FETCO, Inc.",
    ]


def test_latin_look_alikes_in_cyrillic_are_folded() -> None:
    assert fold_confusables("OOO СТЦ") == "ООО СТЦ"
    assert fold_confusables("Дзмiтрый") == "Дзмітрый"
    assert fold_confusables("Kузнец Сергей Иванович") == "Кузнец Сергей Иванович"
    assert fold_confusables("Andrei Nikolaeviсh SVINTSOV") == "Andrei Nikolaevich SVINTSOV"
    assert fold_confusables("Вести.Ru") == "Вести.Ru"  # R has no Cyrillic twin: left as listed
    assert split("ООО Машприборинторг-Волна and МПИ-Волна", ORG) == [
        ("ООО Машприборинторг-Волна", "original_script"),
        ("МПИ-Волна", "original_script"),
    ]


def test_listed_names_keep_the_strongest_kind_once() -> None:
    names = listed_names(
        [Name(value="HAQQANI NETWORK (HQN)", kind=NameKind.PRIMARY), Name(value="HQN", kind=NameKind.STRONG_ALIAS)], ORG
    )
    assert [(n.value, n.kind) for n in names] == [("HAQQANI NETWORK", NameKind.PRIMARY), ("HQN", NameKind.STRONG_ALIAS)]


# --- every real list file ----------------------------------------------------------------------------------------

AFTER_AT_MOST: dict[str, int] = {
    "UN 2025-11-20": 11, "UN 2026-02-27": 11, "EU 1.0 sample 2016": 69, "EU 1.1 excerpt 2018": 0,
    "EU 1.1 excerpt 2024": 0, "OFAC SDN CSV 2024-05": 34, "OFAC SDN CSV set 2021-07": 84,
    "OFAC SDN companions 2025-12": 70, "OFAC sdn.xml excerpt 2018": 0, "OFAC non-SDN CSV 2025-12": 14,
    "OFAC non-SDN XML 2026-01": 14, "OFAC non-SDN enhanced 2025-01": 14, "US CSL": 240, "UK OFSI xlsx 2025-04": 78,
    "UK OFSI csv 2016": 7, "UK FCDO excerpt 2026": 0, "CA SEMA": 42, "AU DFAT": 22,
    "OpenSanctions FtM Saudi PEPs": 2, "OpenSanctions FtM delta": 225, "OpenSanctions Senzing US Congress": 3,
    "EveryPolitician (EE, FI, KP)": 2,
}  # fmt: skip
"""Names still holding ``(``, ``;`` or two scripts per file (BENCHMARKS.md lists what they are: mostly organisation
qualifiers such as ``(HONG KONG)`` and Latin names in Bulgarian and Greek translations)."""


def test_every_list_file_is_counted() -> None:
    counted = {path for _, paths in FILES.values() for path in paths}
    on_disk = {str(p.relative_to(LISTS)) for p in LISTS.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert on_disk <= counted, sorted(on_disk - counted)


@cache
def after(label: str) -> Bundled:
    return count(parse(label, LISTS))


@pytest.mark.parametrize("label", list(FILES))
def test_bundled_names_before_and_after(label: str) -> None:
    before, now = BEFORE[label], after(label)
    print(f"{label}: names {before.names} -> {now.names}; bundled ( ; mix any: "
          f"{before.paren} {before.semicolon} {before.mixed} {before.any} -> "
          f"{now.paren} {now.semicolon} {now.mixed} {now.any}")  # fmt: skip
    assert now.any <= AFTER_AT_MOST[label]
    assert now.semicolon <= (1 if label == "OpenSanctions FtM delta" else 0)
    assert now.any <= before.any
    if label.startswith(("UN", "EU 1.0", "OFAC SDN CSV", "US CSL", "UK", "CA", "AU", "OpenSanctions FtM")):
        assert now.any < before.any
    # splitting only adds spellings (minus the duplicates it reveals): no designation loses its names
    assert now.names >= before.names * 0.9


# --- what it changes for screening -------------------------------------------------------------------------------


@cache
def un_matcher() -> Matcher:
    entries: list[Entry] = parse("UN 2026-02-27", LISTS)
    return Matcher.build((1, e) for e in entries)


def test_un_split_alias_scores_as_a_name_of_its_own() -> None:
    top = un_matcher().screen(Query.model_validate({"name": "Hassan Ghul", "schema": "Person"}))[0]
    assert (top.source_ref, top.matched_name) == ("QDi.306", "Hassan Ghul")
    assert top.score >= 0.95


def test_un_alias_with_its_original_script_is_found_with_the_listed_birth_year() -> None:
    query = Query.model_validate({"name": "Abou Mouhadjir", "schema": "Person", "birth_date": "1972"})
    matches = un_matcher().screen(query)
    assert matches and matches[0].source_ref == "QDi.280"
    assert matches[0].matched_name == "Abou Mouhadjir"
    arabic = un_matcher().screen(Query.model_validate({"name": "ابو مهاجر", "schema": "Person"}))
    assert arabic and arabic[0].source_ref == "QDi.280"
