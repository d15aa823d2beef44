"""``GET /catalog``, ``GET /algorithms`` and ``GET /-/version``: what a yente client reads before screening."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kyc import ftm
from kyc.matching import ENGINE_VERSION
from kyc.pep import PEP_SOURCES
from kyc.screening_api.index import ApiIndex, VersionInfo
from kyc.screening_api.protocol import (
    ALGORITHMS,
    BEST_ALGORITHM,
    COLLECTIONS,
    COMPATIBLE_VERSION,
    DEFAULT_ALGORITHM,
    DEFAULT_THRESHOLD,
)


def _dataset(
    name: str, title: str, version: str, indexed: bool, children: Iterable[str], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "version": version,
        "index_version": version if indexed else None,
        "index_current": indexed,
        "load": True,
        "children": sorted(children),
        "tags": [],
        **extra,
    }


def catalog(index: ApiIndex | None, versions: Sequence[VersionInfo]) -> dict[str, Any]:
    """``GET /catalog``: one dataset per source with an active version, and the collections over them.

    ``index`` is None while the matcher is still being built: the datasets are then listed without an
    ``index_version`` (yente's "outdated"), which is how a client sees that the index is not current.
    """
    indexed = index is not None
    by_source = {v.source: v for v in versions}
    datasets = [
        _dataset(
            v.source,
            ftm.SOURCE_TITLES.get(v.source, v.source),
            v.version,
            indexed,
            (),
            updated_at=ftm.iso_seconds(v.moment),
            last_export=ftm.iso_seconds(v.activated_at or v.fetched_at),
            entity_count=v.entry_count,
            thing_count=v.entry_count,
            category="sanctions" if v.source not in PEP_SOURCES else "peps",
        )
        for v in versions
    ]
    newest = max((v.moment for v in versions), default=None)
    digest = hashlib.sha256("|".join(f"{v.source}:{v.version_id}" for v in versions).encode()).hexdigest()[:4]
    collection_version = f"{newest:%Y%m%d%H%M%S}-{digest}" if newest else "empty"
    members = {
        "default": set(by_source),
        "sanctions": index.sanction_sources if index else {s for s in by_source if s not in PEP_SOURCES},
        "peps": index.pep_sources if index else {s for s in by_source if s in PEP_SOURCES},
    }
    for name, title in COLLECTIONS.items():
        children = members[name] & set(by_source)
        datasets.append(
            _dataset(
                name,
                title,
                collection_version,
                indexed,
                children,
                updated_at=ftm.iso_seconds(newest),
                entity_count=sum(by_source[s].entry_count for s in children),
            )
        )
    current = [d["name"] for d in datasets] if indexed else []
    outdated = [] if indexed else [d["name"] for d in datasets]
    return {"datasets": datasets, "current": current, "outdated": outdated, "index_stale": not indexed}


def catalog_etag(body: Mapping[str, Any]) -> str:
    parts = sorted(f"{d['name']}:{d['version']}:{d['index_version']}" for d in body["datasets"])
    return '"' + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32] + '"'


def algorithms() -> dict[str, Any]:
    """``GET /algorithms``: every name yente accepts, each answered by our engine."""
    docs = {
        "name": {
            "description": "Name similarity (parts in any order, transliteration, typos)",
            "coefficient": 1.0,
            "url": "https://github.com/opensanctions/yente",
        },
        "kyc_score": {
            "description": "The engine's raw score before calibration to the yente scale",
            "coefficient": 0.0,
            "url": "https://github.com/opensanctions/yente",
        },
    }
    entries = []
    for name, original in ALGORITHMS.items():
        description = (
            f"Accepted for compatibility with yente's {name} ({original}); answered by this service's engine "
            f"{ENGINE_VERSION}: names, birth date, nationality, identifiers and gender, scores calibrated so that "
            f"its threshold is {DEFAULT_THRESHOLD}."
        )
        entries.append(
            {
                "name": name,
                "description": description,
                "features": docs,
                "docs": {"name": name, "description": description, "config": {}, "features": docs},
            }
        )
    return {"algorithms": entries, "best": BEST_ALGORITHM, "default": DEFAULT_ALGORITHM}


def version_info() -> dict[str, str]:
    return {"yente": COMPATIBLE_VERSION, "engine": ENGINE_VERSION}
