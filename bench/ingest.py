"""Ingestion speed and peak memory per source, each run in a fresh process on a fresh database.

Usage: ``.venv/bin/python -m bench.ingest [--db sqlite|postgresql] [--repeat 3]``. The time measured is
``lists.ingest.ingest_files`` (read, parse, diff, store in one transaction), not interpreter start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.paths import shared_data

SHARED = shared_data() / "lists"

CASES: list[tuple[str, str, list[str]]] = [
    ("UN SC consolidated (1,003 entries)", "un_sc", ["un_sc/2026-02-27_watchman/UN_consolidated.xml"]),
    ("OFAC SDN CSV, 2024-05 (14,965 entries)", "ofac_sdn", ["ofac_sdn/2024-05-03_jackdwyer/sdn.csv"]),
    (
        "OFAC SDN CSV set sdn+add+alt, 2021-07 (8,976 entries)",
        "ofac_sdn",
        [
            "ofac_sdn/2021-07_watchman_bench/sdn.csv",
            "ofac_sdn/2021-07_watchman_bench/add.csv",
            "ofac_sdn/2021-07_watchman_bench/alt.csv",
        ],
    ),
    ("UK OFSI ConList.xlsx (4,688 entries)", "uk_ofsi", ["uk/ofsi_2025-04-14/ConList.xlsx"]),
    ("US CSL (14,160 rows)", "us_csl", ["us_csl/consolidated.csv.gz"]),
    ("AU DFAT xlsx (3,062 entries)", "au_dfat", ["au_dfat/regulation8_consolidated.xlsx"]),
    ("CA SEMA XML (4,759 records)", "ca_sema", ["ca_sema/cannada.xml"]),
]


def _child(source: str, files: list[str], url: str) -> None:
    """Runs in a fresh interpreter: migrate, then time one ingestion and report peak RSS."""
    from kyc.settings import Settings
    from kyc.storage.db import migrate
    from lists.ingest import ingest_files

    migrate(url)
    settings = Settings(database_url=url)
    started = time.perf_counter()
    result = ingest_files(source, [SHARED / f for f in files], settings)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "entries": result.entry_count}))


def _fresh_url(db: str, workdir: Path, index: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{workdir / f'bench{index}.sqlite3'}"
    import psycopg

    name = f"kyc_bench_{os.getpid()}_{index}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[2:], args.child[1])
        return
    print(
        f"# Ingestion benchmark — {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, database {args.db}"
    )
    print("| list | entries | median s | min s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    counter = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, source, files in CASES:
            runs: list[dict[str, Any]] = []
            for _ in range(args.repeat):
                counter += 1
                url = _fresh_url(args.db, Path(tmp), counter)
                out = subprocess.run(
                    [sys.executable, "-m", "bench.ingest", "--child", source, url, *files],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    runs = []
                    print(f"| {label} | failed: {out.stderr.strip().splitlines()[-1:]} | | | |")
                    break
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if runs:
                seconds = [r["seconds"] for r in runs]
                print(
                    f"| {label} | {runs[0]['entries']} | {statistics.median(seconds):.2f} | {min(seconds):.2f} "
                    f"| {max(r['peak_mb'] for r in runs):.0f} |"
                )


if __name__ == "__main__":
    main()
