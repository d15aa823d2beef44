"""Shared pieces of the case tests: the real list files that designate the same people on several lists."""

from __future__ import annotations

from typing import Any

from kyc.settings import Settings
from lists.ingest import ingest_files
from tests.support.env import list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
UK_OFSI = "uk/ofsi_2025-04-14/ConList.xlsx"
SDN_2021 = (
    "ofac_sdn/2021-07_watchman_bench/sdn.csv",
    "ofac_sdn/2021-07_watchman_bench/add.csv",
    "ofac_sdn/2021-07_watchman_bench/alt.csv",
)
SDN_2024 = ("ofac_sdn/2024-05-03_jackdwyer/sdn.csv",)
"""A later SDN file: entry 18555 (KO TAE HUN) changes between the two (names)."""

OS_DELTA = "pep/opensanctions_ftm/yente_tests_fixtures/entities.delta.json"
"""OpenSanctions entities with their referents (``ofac-13168``, ``gb-hmt-13141``…)."""

KO_TAE_HUN: dict[str, Any] = {"name": "Ko Tae Hun", "birth_date": "1972-05-25", "nationality": "KP"}
"""UN KPi.025 = UK OFSI group 13335 = OFAC SDN 18555 (the UN reference on the UK entry; passport 563120630 on all)."""


def ingest(settings: Settings, source: str, *files: str) -> int:
    result = ingest_files(source, [list_file(f) for f in files], settings, allow_shrink=True)
    assert result.outcome in ("stored", "unchanged"), result
    return result.version_id
