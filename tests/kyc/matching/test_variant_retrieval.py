"""Screening finds listed persons by the spellings of their names that the part rules relate."""

from __future__ import annotations

from functools import cache

import pytest

from kyc.entry import Entry, Name
from kyc.matching import Matcher, Query
from kyc.versions import RawFile
from lists.un_sc import UnScAdapter
from tests.support.env import list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"

LISTED = {
    "X-1": "XI Jinping",
    "X-2": "MAO Zedong",
    "X-3": "Sergey Viktorovich LAVROV",
    "X-4": "Theodore DOE",
    "X-5": "Jean-Claude JUNCKER",
}


@cache
def un_entries() -> tuple[Entry, ...]:
    path = list_file(UN_2026)
    return tuple(UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries)


@cache
def matcher() -> Matcher:
    extra = [
        Entry(source="test", source_ref=ref, schema_="Person", names=(Name(value=name),))
        for ref, name in LISTED.items()
    ]
    return Matcher.build([(1, e) for e in (*un_entries(), *extra)])


@pytest.mark.parametrize(
    ("query", "ref"),
    [
        ("Hsi Chin-ping", "X-1"),
        ("Mao Tse-tung", "X-2"),
        ("Sergejs Lavrovs", "X-3"),
        ("Ted Doe", "X-4"),
        ("JC Juncker", "X-5"),
    ],
)
def test_a_related_spelling_alerts_on_the_listed_person(query: str, ref: str) -> None:
    hits = matcher().screen(Query(name=query, schema_="Person"))
    assert ref in [h.source_ref for h in hits]
