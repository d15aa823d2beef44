"""Rows of the national fi_national template built from real UN-listed persons (no real fi_national file exists)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from kyc.entry import Entry, NameKind, Schema
from kyc.versions import RawFile
from lists.fi_national import COLUMNS, FiNationalAdapter
from lists.un_sc import UnScAdapter
from tests.support.env import REPO, list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
TEMPLATE = REPO / "docs" / "fi_national_template.csv"
HETU = "131052-308T"  # the example code in python-stdnum's documentation of stdnum.fi.hetu


@pytest.fixture(scope="module")
def un_persons() -> list[Entry]:
    """UN persons with a day-precise birth date, a nationality and a passport: realistic rows for a transcriber."""
    path = list_file(UN_2026)
    entries = UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries
    chosen = [
        e
        for e in entries
        if e.schema_ == Schema.PERSON
        and e.birth_dates
        and len(e.birth_dates[0].date) == 10
        and e.nationalities
        and any(i.type == "passport" and " " not in i.number for i in e.identifiers)
        and any(n.kind == NameKind.STRONG_ALIAS for n in e.names)
    ]
    assert len(chosen) >= 3
    return chosen[:3]


def row_for(entry: Entry, number: int) -> dict[str, str]:
    passport = next(i for i in entry.identifiers if i.type == "passport" and " " not in i.number)
    return {
        "schema": "Person",
        "name": entry.primary_name,
        "aliases": ";".join(n.value for n in entry.names if n.kind == NameKind.STRONG_ALIAS),
        "birth_date": entry.birth_dates[0].date,
        "birth_place": entry.birth_places[0] if entry.birth_places else "",
        "nationality": ";".join(entry.nationalities),
        "identifiers": f"passport:{passport.number}:{passport.country or ''}".rstrip(":"),
        "decision_number": f"KRP/{number}/2025",
        "decision_date": f"2025-01-{10 + number:02d}",
        "virallinen_lehti": f"VL 2025/{number}",
        "notes": f"Also UN {entry.source_ref}",
    }


def organization_row() -> dict[str, str]:
    return {
        "schema": "Organization",
        "name": "Esimerkki Holding Oy",
        "aliases": "Exempel Holding Ab",
        "birth_date": "",
        "birth_place": "",
        "nationality": "Suomi",
        "identifiers": "fi_ytunnus:2077474-0",
        "decision_number": "KRP/9/2025",
        "decision_date": "3.2.2025",
        "virallinen_lehti": "",
        "notes": "",
    }


def csv_bytes(rows: list[dict[str, str]], delimiter: str = ",", bom: bool = False, crlf: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row[c] for c in COLUMNS])
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


def parse(data: bytes, name: str = "fi.csv") -> list[Entry]:
    return FiNationalAdapter().parse([RawFile(name, data)]).entries


@pytest.fixture
def good_rows(un_persons: list[Entry]) -> list[dict[str, str]]:
    return [row_for(e, i) for i, e in enumerate(un_persons, start=1)] + [organization_row()]


def write(tmp_path: Path, rows: list[dict[str, str]], name: str = "lista.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, ";", bom=True))
    return path
