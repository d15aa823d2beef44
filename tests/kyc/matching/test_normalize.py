"""Normalisation and name structure, on real names from the list files (no timing here: speed is in bench/)."""

from __future__ import annotations

from functools import cache

import pytest

from kyc.entry import Entry, NameKind
from kyc.matching import compare_names, name_form
from kyc.matching.normalize import Part, _plain_person_parts, fold, prepared_text, ruled_form, skeleton
from kyc.versions import RawFile
from lists.un_sc import UnScAdapter
from tests.support.env import list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
OFAC_SDN = "ofac_sdn/2024-05-03_jackdwyer/sdn.csv"
CA_SEMA = "ca_sema/cannada.xml"


@cache
def un_entries() -> dict[str, Entry]:
    path = list_file(UN_2026)
    return {e.source_ref: e for e in UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries}


def score(a: str, b: str, schema: str = "Person") -> float:
    return compare_names(name_form(a, schema), name_form(b, schema)).score


def listed_names(ref: str) -> list[str]:
    return [n.value for n in un_entries()[ref].names]


def test_cyrillic_original_script_is_transliterated_and_matches_the_latin_name() -> None:
    # QDi.??? style lookup is by content, not a hard-coded ref: the first UN person with a Cyrillic original name.
    for entry in un_entries().values():
        cyrillic = [n.value for n in entry.names if n.kind is NameKind.ORIGINAL_SCRIPT and _is_cyrillic(n.value)]
        if cyrillic:
            break
    else:
        pytest.fail("the UN list has no Cyrillic original-script name")
    form = name_form(cyrillic[0], "Person")
    assert all(t.isascii() for t in form.tokens)
    # The transliterated original-script name is close to the list's own Latin spelling.
    assert score(cyrillic[0], entry.primary_name) >= 0.8, (cyrillic[0], entry.primary_name)


def _is_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def test_russian_romanisations_fold_onto_one_skeleton() -> None:
    # Finnish SFS 4900, English, German and French spellings of Евгений Пригожин, listed by OFAC as below.
    assert "PRIGOZHIN, Yevgeniy Viktorovich" in list_file(OFAC_SDN).read_text(encoding="latin-1")
    spellings = ["Jevgeni Prigožin", "Yevgeny Prigozhin", "Jewgeni Prigoschin", "Evgenij Prigozhin", "Евгений Пригожин"]
    skeletons = {tuple(skeleton(t) for t in name_form(s, "Person").tokens) for s in spellings}
    assert skeletons == {("evgeni", "prigosin")}
    for spelling in spellings:
        assert score(spelling, "PRIGOZHIN, Yevgeniy Viktorovich") >= 0.8


def test_nordic_letters_are_folded() -> None:
    # CA SEMA lists the same person as "Yelena Välbe" (Estonian/Finnish spelling) and "Elena Valerievna Vyalbe";
    # the EU list writes a Danish organisation name with æ.
    assert "Yelena Välbe; Yelena Valeryevna Trubitsyna" in list_file(CA_SEMA).read_text(encoding="utf-8")
    assert fold("Yelena Välbe") == "yelena valbe"
    assert fold("Folkefronten til Palæstinas Befrielse") == "folkefronten til palaestinas befrielse"
    assert fold("Ääkkönen Øresund Ærø Åland") == "aakkonen oresund aero aland"
    assert score("Yelena Välbe", "Elena Valerievna Vyalbe") >= 0.8
    assert score("Yelena Välbe", "Елена Валерьевна Вяльбе") >= 0.8


def test_finnish_company_legal_forms_from_the_ofac_list() -> None:
    raw = list_file(OFAC_SDN).read_text(encoding="latin-1")
    assert '"SIBERICA OY"' in raw and "Southeast Trading Oy" in raw
    form = name_form("SIBERICA OY", "Organization")
    assert form.parts[-1] is Part.LEGAL_FORM
    # Oy is a limited company; the Russian OOO and the English LLC are the same legal form.
    assert score("SIBERICA OY", "Siberica LLC", "Organization") == 1.0
    assert score("Siberica Oy", "ООО Siberica", "Organization") == 1.0
    assert score("Southeast Trading Oy", "Southeast Trading", "Organization") > 0.9
    # The legal form alone never makes a match.
    assert score("SIBERICA OY", "Southeast Trading Oy", "Organization") < 0.5


def test_al_tikriti_joined_split_and_hyphenated() -> None:
    names = listed_names("IQi.001")
    assert names[0] == "SADDAM HUSSEIN AL-TIKRITI"
    for variant in ("Saddam Hussein Al Tikriti", "Saddam Hussein Altikriti", "Saddam Hussein al-Tikriti"):
        assert score(variant, names[0]) >= 0.9, variant
    # The Arabic original script is kept and transliterated, so it still finds the entry's Latin name.
    assert any(n.kind is NameKind.ORIGINAL_SCRIPT for n in un_entries()["IQi.001"].names)


def test_reordered_names_match_order_insensitively() -> None:
    name = un_entries()["QDi.430"].primary_name
    assert name == "EMRAAN ALI"
    assert score("Ali, Emraan", name) == 1.0
    assert score("SALEK, ABDULHAI", "ABDULHAI SALEK") == 1.0


def test_initials_and_missing_middle_names() -> None:
    full = "IBRAHIM AHMAD ABD AL-SATTAR MUHAMMED AL-TIKRITI"
    assert full in listed_names("IQi.013")
    assert score("Ibrahim Ahmad Al-Tikriti", full) >= 0.75  # middle names missing, not contradicting
    assert score("I. A. Al-Tikriti", "IBRAHIM AHMAD AL-TIKRITI") >= 0.75  # initials
    assert score("Ibrahim Ahmad Al-Tikriti", full) > score("Ibrahim Mahmoud Al-Tikriti", full)


def test_titles_are_dropped_and_particles_weigh_little() -> None:
    assert score("Dr. Saddam Hussein Al-Tikriti", "SADDAM HUSSEIN AL-TIKRITI") >= 0.95
    # A shared particle and family name is not the same person as different given names.
    assert score("RAFI ABD-AL-LATIF TILFAH AL-TIKRITI", "HANI ABD-AL-LATIF TILFAH AL-TIKRITI") < 0.9


def test_numbers_in_names_are_compared_exactly() -> None:
    assert score("Oil Tanker 7", "Oil Tanker 8", "Organization") < 0.7
    assert score("Oil Tanker 7", "Oil Tanker 7", "Organization") == 1.0


def test_typos_still_score_high_but_different_names_do_not() -> None:
    assert score("Abdulhai Slaek", "ABDULHAI SALEK") >= 0.8
    assert score("Angela Merkel", "Angelo Cruz") < 0.6


def test_two_typos_from_five_letters_but_none_in_short_parts() -> None:
    # name_bench pairs (nomenklatura nk_checks): a misspelt family name with the given name right.
    assert score("Angela Merkur", "Angela Merkel") >= 0.8
    assert score("Olaf Schulze", "Olaf Scholz") >= 0.8
    # Short parts keep no budget: ALI is not ARI, and a different given name is still a different person.
    assert score("Ari Khan", "Ali Khan") < 0.8
    assert score("Octavian Scholz", "Olaf Scholz") < 0.6
    # Two changes that include the first letter make another name: a negative of the yente fixtures against the
    # Canadian list's GARCÍA DUQUE, and against the US CSL's Larry Davis.
    assert score("Maria Franklin", "Franklin GARCÍA DUQUE") < 0.8
    assert score("Tammy Davis", "Larry Davis") < 0.8


def test_a_split_part_is_joined_to_match_the_whole_part() -> None:
    # name_bench: a family name split by a space, and two given names written as one.
    assert score("Nikolai Patr ushev", "Nikolai Platonovich Patrushev") >= 0.8
    assert score("MOHAMMAD HASNI HAJI SSAD KHAN ZARKARI", "HAJI ASAD KHAN ZARKARI MOHAMMADHASNI") >= 0.8
    # Two real parts that only look alike joined are not forced together: PATR + USHEV needs PATRUSHEV.
    assert score("Nikolai Patr Ivanov", "Nikolai Platonovich Patrushev") < 0.8


def test_chinese_characters_and_hangul_are_compared_syllable_by_syllable() -> None:
    # Romanised, 石 and 市 are both "shi" and 명 / 형 differ by a letter: one character is one syllable of the name.
    assert score("高石早苗", "高市早苗") < 0.8
    assert score("习近朋", "习近平") < 0.8
    assert score("김종은", "김정은") < 0.8
    assert score("习近平", "习近平") == 1.0
    assert score("김정은", "김 정은") == 1.0  # spacing does not matter
    # Against a Latin name the romanisation is still what is compared.
    assert score("习近平", "Xi Jinping") >= 0.9


def test_father_and_son_swapped_around_bin_is_another_person() -> None:
    listed = "Othman Bin Ahmed Bin Othman"
    assert listed in listed_names("QDi.292")
    assert score("OTHMAN BIN AHMED BIN OTHMAN", listed) == 1.0
    assert score("Ahmed Bin Othman", listed) >= 0.8  # a shorter form, same order: still the same person
    # name_bench synth_people: OMAR son of ABDULLAH is not ABDULLAH son of OMAR.
    assert score("ABDULLAH BIN OMAR AL-MUHAMMAD", "OMAR BIN ABDULLAH AL-MUHAMMAD") < 0.8
    assert score("Marwan bin Bilal", "BILAL BIN MARWAN") < 0.8
    # Rotating the whole name (family name first) keeps who is whose son.
    assert score("AL-ALI, Hamid bin Abdallah Ahmed", "Hamid bin Abdallah Ahmed Al-Ali") >= 0.9


def test_a_one_part_person_name_never_alerts_on_a_fuller_name() -> None:
    # OpenSanctions PEP entries carry one-word names ("Elizabeth", "Sarah"): alone they cannot identify anyone.
    assert score("Elizabeth Bird", "Elizabeth") < 0.8
    assert score("Sarah", "Sarah Johnson") < 0.8
    # A fuller name whose every part found a partner is not one part: RamiMakhlouf is Rami Makhlouf joined.
    assert score("RamiMakhlouf", "Rami Makhlouf") >= 0.9
    assert score("A. Khamenei", "Ali Khamenei") >= 0.8  # an initial is a part too


def test_arabic_script_is_read_as_an_abjad_against_latin_names() -> None:
    # UN entries carry both spellings; letter-by-letter romanisation (adm khan achkzy) misses the Latin one.
    assert "ADAM KHAN ACHEKZAI" in listed_names("TAi.167")
    assert score("آدم خان اچکزی", "ADAM KHAN ACHEKZAI") >= 0.8
    assert score("يحيى حقانی", "YAHYA HAQQANI") >= 0.8
    assert score("صدام حسين التكريتي", "SADDAM HUSSEIN AL-TIKRITI") >= 0.8  # the article joined to the name
    # name_bench cust_cases: a customer's name written in Arabic letters.
    assert score("فرناندو بيريز", "Fernando Pérez") >= 0.8
    # A written long vowel must be in the Latin spelling: محمد is Muhammad, not Mahmoud (محمود); and ahmdy (احمدی)
    # is not Hamid, though both have the consonants h, m, d.
    assert score("محمد احمدی", "Mohammad Ahmadi") >= 0.8
    assert score("محمد احمدی", "Mahmoud Ahmadi") < 0.8
    assert score("محمد احمدی", "Mahmoud Hamid") < 0.5
    # The US CSL's Mahmood ASHTARI: a doubled vowel is a long one too, which محمد does not write.
    assert score("محمد اشتری", "Mahmood ASHTARI") < 0.8
    assert score("محمود اشتری", "Mahmood ASHTARI") >= 0.8
    assert score("فرناندو بيريز", "Fernando Fernandez") < 0.5
    # Negatives of the yente fixtures against UN list names: each letter is read on its own (د + ح of مدحت is not
    # the digraph dh), and no vowel follows the last letter unless written (محمد is not Mohammadi).
    assert score("مدحت آل علي", "MEDDIE LEE") < 0.8
    assert score("محمد جعفر پور", "JAFAR MOHAMMADI") < 0.8
    assert score("يحيى", "Yahya") >= 0.8  # a final alif maqsura is a long a


def test_ayn_and_hamza_do_not_split_a_romanised_part() -> None:
    # UN IQi.049's Arabic name (Rashid Taan Kathim): the transliterator writes the ʿayn of طعان as "?", which
    # used to split it into a one-letter "t" (taken for an initial: it matched Rashida Tlaib's family name) and "an".
    listed = "رشيد طعان كاظم"
    assert listed in [n.value for e in un_entries().values() for n in e.names]
    assert name_form(listed, "Person").tokens == ("rshyd", "tan", "kazm")
    assert score("Rashida Tlaib", listed) < 0.8
    # Punctuation between parts still separates them (katakana middle dot).
    assert name_form("バラク・オバマ", "Person").tokens == ("baraku", "obama")


def test_skeleton_skips_only_rules_that_cannot_apply() -> None:
    import random

    from kyc.matching.normalize import _SKELETON_RULES, skeleton

    def every_rule(token: str) -> str:
        out = token
        for pattern, replacement, _needs in _SKELETON_RULES:
            out = pattern.sub(replacement, out)
        return out or token

    rng = random.Random(3)
    tokens = ["".join(rng.choice("abcdeghijkostuwxyz") for _ in range(rng.randint(2, 10))) for _ in range(50_000)]
    for token in [*tokens, "schtschukin", "chtcherbakov", "abdoulaye", "yevgeny", "michail", "tsvetkov"]:
        assert skeleton(token) == every_rule(token), token


def test_the_word_cache_gives_the_form_the_full_rules_give() -> None:
    """Most person names take ``_plain_person_parts``; each must come out as ``ruled_form`` makes it, over every
    name of every listed person and names that need the rules the cache leaves to them."""
    crafted = [
        "Abd al-Aziz bin Saud", "Sheikh Mohammed bin Rashid", "Mr. John Smith", "Dr Ayman al-Zawahiri",
        "General Qasem Soleimani", "Al-Tikriti, Saddam Hussein", "Абу Банат", "Jean-Luc O'Neill", "- -", "Sir",
        "Kim Jong Un (김정은)", "ABD RAHMAN", "Haji Mullah Abdul Ghani",
    ]  # fmt: skip
    names = crafted + [n.value for e in un_entries().values() if e.schema_ == "Person" for n in e.names]
    plain = 0
    for value in names:
        text = prepared_text(value, True)
        ruled = ruled_form(value, text, True)
        assert name_form(value, "Person") == ruled, value
        plain += _plain_person_parts(text) is not None
    assert plain > 0.9 * len(names)  # the cache does serve nearly every name
    assert _plain_person_parts(prepared_text("Abd al-Aziz", True)) is None
    assert _plain_person_parts(prepared_text("Sheikh Mohammed bin Rashid", True)) is None


def test_the_shared_pattern_tables_stop_growing_at_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries are normalised too: names of new part lengths beyond the limit are made, not remembered."""
    from kyc.matching import normalize

    table = normalize._SHARED_WEIGHTS
    monkeypatch.setattr(normalize, "_SHARED_LIMIT", len(table) + 5)
    for k in range(40):
        value = f"{'a' * (k + 30)} {'b' * (k + 31)}"  # part lengths no real name has
        form = name_form(value, "Person")
        assert form.weights == (float(k + 30), float(k + 31))
    assert len(table) == normalize._SHARED_LIMIT
