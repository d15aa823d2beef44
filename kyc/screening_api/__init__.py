"""The OpenSanctions-compatible screening API (yente 5.x protocol), translated onto our engine.

Clients that speak yente — Marble, nomenklatura's ``YenteEnricher``, scripts written against the hosted API —
send FollowTheMoney example entities; we screen them with ``kyc.matching`` and answer with FtM entities
(``kyc.ftm``), a ``score``, ``match`` and per-feature ``explanations``. Every algorithm name yente accepts is
accepted and answered by our engine (``/algorithms`` says so).

**Scores.** Clients choose a ``threshold`` on yente's scale, where 0.70 is "a match" by default. Our engine has its
own threshold per schema (``KYC_MATCH_THRESHOLD``, 0.80 by default). Scores are reported calibrated, piecewise
linearly, so that our threshold lands on 0.70: ``s * 0.70 / t`` below it, ``0.70 + (s - t) * 0.30 / (1 - t)`` at or
above. A client keeping yente's default threshold therefore gets exactly the hits our engine alerts on, and
raising or lowering it moves along our scale. The raw engine score is in ``explanations.kyc_score``.

**Cutoff.** As in yente the effective cutoff is ``min(cutoff, threshold)`` and results at or below it are dropped,
except that a result at or above the threshold (a match) is always returned, even when it equals the cutoff.

Every request is audited with who asked, how many queries, which dataset and algorithm, and how many matches —
never the names or other properties queried.

The package: ``protocol`` (vocabulary, request models, example entities as queries), ``calibration``, ``index``
(entities, datasets, filters), ``matches`` (``/match``), ``lookup`` (``/search``, ``/entities``), ``metadata``
(``/catalog``, ``/algorithms``).
"""

from __future__ import annotations

from kyc.screening_api.calibration import calibrate, uncalibrate
from kyc.screening_api.index import ApiIndex, Filters, VersionInfo, active_versions, api_index, in_dataset
from kyc.screening_api.lookup import entity, search
from kyc.screening_api.matches import match
from kyc.screening_api.metadata import algorithms, catalog, catalog_etag, version_info
from kyc.screening_api.protocol import (
    ALGORITHMS,
    BEST_ALGORITHM,
    COMPATIBLE_VERSION,
    DEFAULT_ALGORITHM,
    DEFAULT_LIMIT,
    DEFAULT_THRESHOLD,
    MAX_BATCH,
    MAX_EXCLUDE_IDS,
    MAX_LIMIT,
    SEARCH_DEFAULT_LIMIT,
    SEARCH_MAX_OFFSET,
    BadQuery,
    BodyParams,
    EntityExample,
    IndexNotReady,
    MatchParams,
    MatchRequest,
    SearchParams,
    UnknownDataset,
    UnknownEntity,
    algorithm_name,
    echo_query,
    to_query,
)

__all__ = [
    "ALGORITHMS",
    "BEST_ALGORITHM",
    "COMPATIBLE_VERSION",
    "DEFAULT_ALGORITHM",
    "DEFAULT_LIMIT",
    "DEFAULT_THRESHOLD",
    "MAX_BATCH",
    "MAX_EXCLUDE_IDS",
    "MAX_LIMIT",
    "SEARCH_DEFAULT_LIMIT",
    "SEARCH_MAX_OFFSET",
    "ApiIndex",
    "BadQuery",
    "BodyParams",
    "EntityExample",
    "Filters",
    "IndexNotReady",
    "MatchParams",
    "MatchRequest",
    "SearchParams",
    "UnknownDataset",
    "UnknownEntity",
    "VersionInfo",
    "active_versions",
    "algorithm_name",
    "algorithms",
    "api_index",
    "calibrate",
    "catalog",
    "catalog_etag",
    "echo_query",
    "entity",
    "in_dataset",
    "match",
    "search",
    "to_query",
    "uncalibrate",
    "version_info",
]
