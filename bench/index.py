"""The matcher index: build, store, load and query, on all real lists and on a generated corpus of N names.

``python -m bench.index [--corpus 1000000] [--queries 2000] [--write]`` — each measurement that needs a clean
process (the memory of a loaded index, a query's latency on it) runs in a fresh child, so the figures are what a
worker or a ``kyc screen`` call holds, not what the build left behind. Needs a quiet machine for its figures; with
``--corpus 20000 --queries 200`` it checks that it works in a few seconds.

Measured, per corpus:
- build: ``Matcher.build`` (wall and CPU), RSS growth of the building process (the entries, made before, excluded);
- store: ``kyc.index_store.write`` (the columns of ``kyc.matching.state``), size on disk;
- load: ``kyc.index_store.read`` in a fresh process: wall time and RSS growth (what a serving process holds);
- query: p50 / p99 per person query on the loaded index, one core, wall and CPU (after a warm-up of 50 queries).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.matching import ALL_LISTS, corpus, load_all_lists, peak_mb, rss_mb, speed_queries
from kyc import index_store
from kyc.matching import MatchConfig, Matcher

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Index store and memory, quiet machine"


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def build_and_store(kind: str, size: int, root: Path) -> dict[str, float]:
    entries = load_all_lists()[0] if kind == "lists" else corpus(size)
    gc.collect()
    before = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    matcher = Matcher.build(entries, MatchConfig())
    build_s, build_cpu = time.perf_counter() - wall, time.process_time() - cpu
    gc.collect()
    built_mb = rss_mb() - before
    wall = time.perf_counter()
    directory = index_store.write(root, kind, matcher)
    store_s = time.perf_counter() - wall
    return {
        "entries": float(matcher.entry_count),
        "names": float(matcher.name_count),
        "build_s": build_s,
        "build_cpu_s": build_cpu,
        "build_rss_mb": built_mb,
        "build_peak_mb": peak_mb(),
        "store_s": store_s,
        "disk_mb": _dir_mb(directory),
    }


def load_and_query(root: Path, key: str, n_queries: int) -> dict[str, float]:
    """Runs in a fresh process (``--child``)."""
    queries = speed_queries(n_queries + 50)
    gc.collect()
    before = rss_mb()
    wall = time.perf_counter()
    matcher = index_store.read(root, key)
    load_s = time.perf_counter() - wall
    assert matcher is not None, "the stored index did not load"
    gc.collect()
    gc.freeze()
    loaded_mb = rss_mb() - before
    for query in queries[:50]:
        matcher.screen(query)
    times: list[float] = []
    cpu: list[float] = []
    for query in queries[50:]:
        t, c = time.perf_counter(), time.process_time()
        matcher.screen(query)
        cpu.append(time.process_time() - c)
        times.append(time.perf_counter() - t)
    times.sort()
    cpu.sort()
    p99 = min(len(times) - 1, int(len(times) * 0.99))
    return {
        "load_s": load_s,
        "loaded_rss_mb": loaded_mb,
        "after_queries_rss_mb": rss_mb() - before,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[p99] * 1000,
        "cpu_p50_ms": statistics.median(cpu) * 1000,
        "cpu_p99_ms": cpu[p99] * 1000,
    }


def measure(kind: str, size: int, n_queries: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        root = Path(tmp)
        figures = build_and_store(kind, size, root)
        child = subprocess.run(
            [sys.executable, "-m", "bench.index", "--child", str(root), kind, str(n_queries)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        figures.update(json.loads(child.stdout.strip().splitlines()[-1]))
    return figures


def report(kind: str, size: int, f: dict[str, float]) -> list[str]:
    what = f"all lists ({len(ALL_LISTS)} sources)" if kind == "lists" else f"{size:,}-name generated corpus"
    return [
        f"### {what}: {f['entries']:,.0f} entries, {f['names']:,.0f} names",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| build (wall / CPU) | {f['build_s']:.1f} s / {f['build_cpu_s']:.1f} s |",
        f"| RSS growth of the building process / its peak RSS | {f['build_rss_mb']:.0f} MB / "
        f"{f['build_peak_mb']:.0f} MB |",
        f"| store written (wall) / size on disk | {f['store_s']:.1f} s / {f['disk_mb']:.0f} MB |",
        f"| load in a fresh process (wall) | {f['load_s'] * 1000:.0f} ms |",
        f"| index memory of the loading process (RSS growth) | {f['loaded_rss_mb']:.0f} MB |",
        f"| … after the queries (forms and entries read on first use) | {f['after_queries_rss_mb']:.0f} MB |",
        f"| person query p50 / p99, one core (wall) | {f['p50_ms']:.3f} ms / {f['p99_ms']:.3f} ms |",
        f"| person query p50 / p99, one core (CPU) | {f['cpu_p50_ms']:.3f} ms / {f['cpu_p99_ms']:.3f} ms |",
        "",
    ]


def write_section(body: list[str]) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    section = HEADING + "\n\n" + "\n".join(body).rstrip() + "\n"
    if HEADING in text:
        start = text.index(HEADING)
        rest = text[start + len(HEADING) :]
        nxt = rest.find("\n## ")
        end = start + len(HEADING) + nxt + 1 if nxt >= 0 else len(text)
        text = text[:start] + section + ("\n" + text[end:] if nxt >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--child"]:
        root, kind, n = args_list[1], args_list[2], int(args_list[3])
        print(json.dumps(load_and_query(Path(root), kind, n)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--only", default="lists,corpus")
    parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md")
    args = parser.parse_args(args_list)
    body = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}: {os.cpu_count()} cores "
        f"({platform.machine()}), Python {platform.python_version()}, engine {Matcher.engine_version}. "
        f"Command: `python -m bench.index {' '.join(args_list)}`",
        "",
    ]
    for kind in args.only.split(","):
        figures = measure(kind, args.corpus, args.queries)
        body += report(kind, args.corpus, figures)
        print("\n".join(report(kind, args.corpus, figures)), flush=True)
    if args.write:
        write_section(body)


if __name__ == "__main__":
    main()
