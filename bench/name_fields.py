"""How many listed names still bundle several spellings, per real list file.

A name that holds ``(``, ``;`` or letters of two scripts is usually several spellings in one string (an alias with
its original script, an acronym, ``;``-separated variants); ``lists.names`` splits them. This counts what is left
in every file of ``shared/data/lists`` (see SOURCES.md there), so that the figures in BENCHMARKS.md can be
regenerated::

    python -m bench.name_fields            # the table, as Markdown
    python -m bench.name_fields --left     # and every name still counted, to look at by hand

What remains after splitting is mostly kept on purpose: qualifiers of organisation names (``AERO CONTINENTE (USA)
INC.``, ``AL-HARAMAIN (ALBANIA BRANCH)``) and Latin words inside Bulgarian and Greek translations
(``Организация Abu Nidal``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rigour.text.scripts import text_scripts

from bench.paths import shared_data
from kyc.entry import Entry
from kyc.versions import RawFile
from lists.registry import get_adapter

FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "UN 2025-11-20": ("un_sc", ("un_sc/2025-11-20_mkweli/un_consolidated.xml",)),
    "UN 2026-02-27": ("un_sc", ("un_sc/2026-02-27_watchman/UN_consolidated.xml",)),
    "EU 1.0 sample 2016": ("eu_fsf", ("eu_fsf/legacy_1_0_sample_2016-02-11/data.xml",)),
    "EU 1.1 excerpt 2018": ("eu_fsf", ("eu_fsf/excerpt_2018-12-21_DarkSide666.xml",)),
    "EU 1.1 excerpt 2024": ("eu_fsf", ("eu_fsf/excerpt_2024-12-11_TureBentzin.xml",)),
    "OFAC SDN CSV 2024-05": ("ofac_sdn", ("ofac_sdn/2024-05-03_jackdwyer/sdn.csv",)),
    "OFAC SDN CSV set 2021-07": (
        "ofac_sdn",
        tuple(f"ofac_sdn/2021-07_watchman_bench/{name}" for name in ("sdn.csv", "add.csv", "alt.csv")),
    ),
    "OFAC SDN companions 2025-12": (
        "ofac_sdn",
        (
            "ofac_sdn/2024-05-03_jackdwyer/sdn.csv",
            *(f"ofac_sdn/2025-12_watchman_companions/{n}" for n in ("add.csv", "alt.csv", "sdn_comments.csv")),
        ),
    ),
    "OFAC sdn.xml excerpt 2018": ("ofac_sdn", ("ofac_sdn_xml/excerpt_2018-12-19_DarkSide666.xml",)),
    "OFAC non-SDN CSV 2025-12": (
        "ofac_cons",
        tuple(
            f"ofac_non_sdn/2025-12_watchman/{name}"
            for name in ("cons_prim.csv", "cons_add.csv", "cons_alt.csv", "cons_comments.csv")
        ),
    ),
    "OFAC non-SDN XML 2026-01": ("ofac_cons", ("ofac_non_sdn/2026-01-08_pakote_data/ofac.xml",)),
    "OFAC non-SDN enhanced 2025-01": ("ofac_cons", ("ofac_non_sdn/2025-01-10_watchman/CONS_ENHANCED.ZIP",)),
    "US CSL": ("us_csl", ("us_csl/consolidated.csv.gz",)),
    "UK OFSI xlsx 2025-04": ("uk_ofsi", ("uk/ofsi_2025-04-14/ConList.xlsx",)),
    "UK OFSI csv 2016": ("uk_ofsi", ("uk/ofsi_conlist_csv_sample_2016-02-12/data.csv",)),
    "UK FCDO excerpt 2026": ("uk_fcdo", ("uk_fcdo/excerpt_2026-03-26_pakote_data.xml",)),
    "CA SEMA": ("ca_sema", ("ca_sema/cannada.xml",)),
    "AU DFAT": ("au_dfat", ("au_dfat/regulation8_consolidated.xlsx",)),
    "OpenSanctions FtM Saudi PEPs": (
        "opensanctions",
        ("pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json",),
    ),
    "OpenSanctions FtM delta": ("opensanctions", ("pep/opensanctions_ftm/yente_tests_fixtures/entities.delta.json",)),
    "OpenSanctions Senzing US Congress": (
        "opensanctions",
        ("pep/opensanctions_senzing/us_congress/us_congress_senzing.json",),
    ),
    "EveryPolitician (EE, FI, KP)": (
        "everypolitician",
        tuple(
            f"pep/everypolitician/{chamber}/ep-popolo-v1.0.json"
            for chamber in ("Estonia_Riigikogu", "Finland_Eduskunta", "North_Korea_National_Assembly")
        ),
    ),
}
"""Every list file in shared/data/lists, as the adapter reads it (file sets together)."""


_CJK = frozenset({"Han", "Hiragana", "Katakana", "Hangul"})


def mixes_scripts(text: str) -> bool:
    """Letters of two writing systems (Chinese, Japanese and Korean counted as one), measured independently of the
    code under test so that the same count runs against an older checkout."""
    return len({"CJK" if script in _CJK else script for script in text_scripts(text)}) > 1


@dataclass(frozen=True)
class Bundled:
    """Names of one file, and how many of them hold a parenthesis, a semicolon or two scripts."""

    names: int
    paren: int
    semicolon: int
    mixed: int
    any: int


BEFORE: dict[str, Bundled] = {
    "UN 2025-11-20": Bundled(4115, 134, 28, 30, 155),
    "UN 2026-02-27": Bundled(4116, 134, 28, 30, 155),
    "EU 1.0 sample 2016": Bundled(2682, 53, 0, 35, 84),
    "EU 1.1 excerpt 2018": Bundled(20, 0, 0, 0, 0),
    "EU 1.1 excerpt 2024": Bundled(3, 0, 0, 0, 0),
    "OFAC SDN CSV 2024-05": Bundled(18627, 44, 0, 0, 44),
    "OFAC SDN CSV set 2021-07": Bundled(23311, 109, 0, 0, 109),
    "OFAC SDN companions 2025-12": Bundled(36281, 93, 0, 0, 93),
    "OFAC sdn.xml excerpt 2018": Bundled(3, 0, 0, 0, 0),
    "OFAC non-SDN CSV 2025-12": Bundled(1585, 14, 0, 0, 14),
    "OFAC non-SDN XML 2026-01": Bundled(1585, 14, 0, 0, 14),
    "OFAC non-SDN enhanced 2025-01": Bundled(1623, 14, 0, 0, 14),
    "US CSL": Bundled(33487, 549, 2, 0, 549),
    "UK OFSI xlsx 2025-04": Bundled(15957, 227, 1, 118, 346),
    "UK OFSI csv 2016": Bundled(707, 24, 0, 0, 24),
    "UK FCDO excerpt 2026": Bundled(102, 1, 0, 0, 1),
    "CA SEMA": Bundled(8403, 203, 1, 163, 363),
    "AU DFAT": Bundled(9504, 122, 0, 8, 123),
    "OpenSanctions FtM Saudi PEPs": Bundled(3818, 4, 0, 9, 13),
    "OpenSanctions FtM delta": Bundled(11201, 456, 64, 506, 920),
    "OpenSanctions Senzing US Congress": Bundled(1350, 3, 0, 0, 3),
    "EveryPolitician (EE, FI, KP)": Bundled(2126, 0, 0, 2, 2),
}
"""Measured with :func:`count` on the adapters before names were split (main at ``ed8c0ff``, 2026-12-03)."""


def count(entries: Iterable[Entry]) -> Bundled:
    names = paren = semicolon = mixed = anything = 0
    for entry in entries:
        for name in entry.names:
            value = name.value
            has_paren, has_semicolon, has_mix = "(" in value, ";" in value, mixes_scripts(value)
            names += 1
            paren += has_paren
            semicolon += has_semicolon
            mixed += has_mix
            anything += has_paren or has_semicolon or has_mix
    return Bundled(names, paren, semicolon, mixed, anything)


def left(entries: Iterable[Entry]) -> list[str]:
    """The names still counted, to read by hand."""
    return [
        name.value
        for entry in entries
        for name in entry.names
        if "(" in name.value or ";" in name.value or mixes_scripts(name.value)
    ]


def parse(label: str, root: Path | None = None) -> list[Entry]:
    source, relative = FILES[label]
    base = root or shared_data() / "lists"
    files = [RawFile(Path(path).name, (base / path).read_bytes()) for path in relative]
    return list(get_adapter(source).parse(files).entries)


def table(rows: dict[str, tuple[Bundled | None, Bundled]]) -> str:
    """Markdown: before (when known) and after, per file; bundled = ``(`` / ``;`` / two scripts / any of them."""
    lines = [
        "| file | names before | bundled before | names after | bundled after |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, (before, after) in rows.items():
        shown = f"{before.names} | {_cells(before)}" if before else "— | —"
        lines.append(f"| {label} | {shown} | {after.names} | {_cells(after)} |")
    return "\n".join(lines)


def _cells(counts: Bundled) -> str:
    return f"{counts.paren} / {counts.semicolon} / {counts.mixed} / **{counts.any}**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--left", action="store_true", help="also print every name still counted")
    args = parser.parse_args()
    rows: dict[str, tuple[Bundled | None, Bundled]] = {}
    for label in FILES:
        entries = parse(label)
        rows[label] = (BEFORE.get(label), count(entries))
        if args.left:
            for value in sorted(set(left(entries))):
                print(f"{label}\t{value}")
    print(table(rows))


if __name__ == "__main__":
    main()
