"""``kyc screen NAME`` and the batch ``kyc match --input queries.jsonl``: screening against the active lists.

Batch screening is used directly by compliance teams on customer files, so one bad line never stops the run: it
is reported on stderr with its line number, the rest is screened, and the exit code says that something was
skipped (1) rather than failed (2).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from pydantic import ValidationError

from cli.common import fail, is_terminal, settings
from kyc.dates import InvalidDate, parse_birth_date
from kyc.matcher_cache import matcher_for
from kyc.matching import Match, Matcher, Query

QUERY_FIELDS = frozenset(
    {"schema", "name", "birth_date", "nationality", "countries", "identifiers", "gender", "aliases"}
)
CHUNK = 512


def _matcher() -> Matcher:
    config = settings()
    matcher = matcher_for(config)
    if matcher.entry_count == 0:
        fail("no active list version to screen against; ingest one first: kyc lists ingest SOURCE --file PATH")
    return matcher


def hit_data(match: Match) -> dict[str, Any]:
    """The contract's hit object: ``source``, ``source_ref``, ``score``, ``matched_name``, ``explanation``…"""
    return {
        "source": match.source,
        "source_ref": match.source_ref,
        "score": match.score,
        "matched_name": match.matched_name,
        "query_name": match.query_name,
        "schema": match.schema_,
        "version_id": match.version_id,
        "caption": match.entry.primary_name,
        "explanation": match.explanation,
    }


def screen_command(
    name: Annotated[list[str], typer.Argument(help="The name to screen (several words need no quotes).")],
    schema: Annotated[str, typer.Option(help="Person, Organization, LegalEntity, Vessel or Aircraft.")] = "LegalEntity",
    birth_date: Annotated[str | None, typer.Option("--birth-date", help="YYYY[-MM[-DD]]")] = None,
    nationality: Annotated[str | None, typer.Option(help="Country name or ISO code.")] = None,
    identifier: Annotated[list[str] | None, typer.Option("--identifier", help="Passport/registration no.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Override the configured threshold.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many hits.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Screen one name against every active list version: hits, best first."""
    fields: dict[str, Any] = {"birth_date": birth_date}
    for warning in birth_date_warnings(fields):
        typer.echo(f"warning: {warning}", err=True)
    try:
        query = Query.model_validate(
            {
                "name": " ".join(name),
                "schema": schema,
                "birth_date": fields.get("birth_date"),
                "nationality": nationality,
                "identifiers": tuple(identifier or ()),
            }
        )
    except ValidationError as exc:
        fail(_validation_message(exc))
    matcher = _matcher()
    matches = matcher.screen(query, threshold=threshold, limit=limit)
    if as_json:
        typer.echo(json.dumps([hit_data(m) for m in matches], ensure_ascii=False, indent=2))
        return
    if not matches:
        typer.echo(f"no hits at or above {threshold if threshold is not None else matcher.config.threshold}")
        return
    for m in matches:
        typer.echo(
            f"{m.score:.3f}  {m.source}:{m.source_ref}  {m.schema_:12}  {m.matched_name}  (query: {m.query_name})"
        )


# ---- batch -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    number: int
    id: str
    query: Query
    warnings: tuple[str, ...] = ()


class BadLine(ValueError):
    pass


def birth_date_warnings(fields: dict[str, Any]) -> list[str]:
    """Make ``fields["birth_date"]`` canonical in place (``kyc.dates``) and say what was given up.

    A person is never left unscreened for their date: an impossible day is screened on its month, and a value
    that is no date at all is dropped so that the name is still screened; either way the warning says so.
    """
    value = fields.get("birth_date")
    if value is None:
        fields.pop("birth_date", None)
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        del fields["birth_date"]
        return ["birth_date ignored (not a string); screened on the name"]
    try:
        parsed = parse_birth_date(value)
    except InvalidDate as exc:
        del fields["birth_date"]
        return [f"birth_date ignored ({exc}); screened on the name"]
    fields["birth_date"] = parsed.value
    return [f"birth_date: {parsed.warning}"] if parsed.warning else []


def parse_line(text: str) -> tuple[str, Query]:
    """One input line to (id, query); raises ``BadLine`` with the reason."""
    ident, query, _ = parse_line_with_warnings(text)
    return ident, query


def parse_line_with_warnings(text: str) -> tuple[str, Query, list[str]]:
    """One input line to (id, query, warnings); raises ``BadLine`` with the reason. A birth date never makes a
    line bad: it is degraded or dropped with a warning (:func:`birth_date_warnings`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise BadLine("expected a JSON object")
    ident = data.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or str(ident) == "":
        raise BadLine("'id' is missing or not a string")
    unknown = set(data) - QUERY_FIELDS - {"id"}
    if unknown:
        raise BadLine(f"unknown field(s): {', '.join(sorted(unknown))}")
    fields = {k: v for k, v in data.items() if k != "id" and v is not None}
    for key in ("countries", "identifiers", "aliases"):
        if isinstance(fields.get(key), list):
            fields[key] = tuple(fields[key])
    warnings = birth_date_warnings(fields)
    try:
        return str(ident), Query.model_validate(fields), warnings
    except ValidationError as exc:
        raise BadLine(_validation_message(exc)) from exc


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _read(stream: IO[str], errors: list[str]) -> Iterator[_Line]:
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            ident, query, warnings = parse_line_with_warnings(text)
        except BadLine as exc:
            message = f"line {number}: {exc}"
            errors.append(message)
            typer.echo(f"error: {message}", err=True)
            continue
        for warning in warnings:
            typer.echo(f"warning: line {number}: {warning}", err=True)
        yield _Line(number, ident, query, tuple(warnings))


def _chunks(lines: Iterator[_Line]) -> Iterator[list[_Line]]:
    chunk: list[_Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_WORKER_MATCHER: Matcher | None = None


def _screen_chunk(chunk: list[_Line]) -> list[tuple[str, int]]:
    """Runs in a forked worker that inherited the parent's matcher (copy-on-write, nothing re-built)."""
    assert _WORKER_MATCHER is not None
    return [_result_line(_WORKER_MATCHER, line) for line in chunk]


def _result_line(matcher: Matcher, line: _Line) -> tuple[str, int]:
    """The output line and its number of hits."""
    matches = matcher.screen(line.query, limit=50)
    hits = [hit_data(m) for m in matches]
    result: dict[str, Any] = {"id": line.id, "hits": hits}
    if line.warnings:
        result["warnings"] = list(line.warnings)
    return json.dumps(result, ensure_ascii=False, separators=(",", ":")), len(hits)


def _bounded(pool: ProcessPoolExecutor, chunks: Iterator[list[_Line]], depth: int) -> Iterator[list[tuple[str, int]]]:
    """In input order, with at most ``depth`` chunks in flight: a million-line file is never all in memory."""
    pending: deque[Future[list[tuple[str, int]]]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(_screen_chunk, chunk))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _total_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def match_command(
    input_path: Annotated[Path, typer.Option("--input", help="JSON lines: {id, schema, name, birth_date?, …}.")],
    output_path: Annotated[Path | None, typer.Option("--output", help="JSON lines out; default stdout.")] = None,
    workers: Annotated[int, typer.Option(help="Processes; 0 = one per core (small files use one).")] = 0,
) -> None:
    """Batch-screen a JSON-lines file: one result line per valid input line, hits at or above the threshold.

    Bad lines are reported on stderr with their line number and skipped; the exit code is then 1.
    """
    if not input_path.is_file():
        fail(f"{input_path}: no such file")
    matcher = _matcher()
    processes = workers or (os.cpu_count() or 1)
    if workers == 0 and input_path.stat().st_size < PARALLEL_MIN_BYTES:
        processes = 1  # forking costs more than it saves on a few hundred lines
    with ExitStack() as stack:
        source = stack.enter_context(input_path.open(encoding="utf-8", errors="strict"))
        sink: IO[str] = stack.enter_context(output_path.open("w", encoding="utf-8")) if output_path else sys.stdout
        progress = (
            stack.enter_context(typer.progressbar(length=_total_lines(input_path), label="screening", file=sys.stderr))
            if is_terminal()
            else None
        )
        started = time.perf_counter()
        try:
            summary = screen_stream(matcher, source, sink, processes, progress.update if progress else None)
        except UnicodeDecodeError as exc:
            fail(f"{input_path}: not UTF-8 text ({exc.reason} at byte {exc.start} of a read block)")
    elapsed = time.perf_counter() - started
    rate = f" ({summary.written / elapsed:,.0f}/s)" if elapsed > 0 and summary.written else ""
    typer.echo(
        f"screened {summary.written} queries in {elapsed:.1f} s{rate}: {summary.alerting} with hits, "
        f"{summary.hits} hits; {len(summary.errors)} bad line(s) skipped",
        err=True,
    )
    if summary.errors:
        raise typer.Exit(1)


PARALLEL_MIN_BYTES = 256 * 1024


@dataclass
class Summary:
    """What a batch run did: lines written, how many of them with hits, hits in all, bad-line messages."""

    written: int = 0
    alerting: int = 0
    hits: int = 0
    errors: list[str] = field(default_factory=list)


def screen_stream(
    matcher: Matcher,
    source: IO[str],
    sink: IO[str],
    processes: int = 1,
    on_progress: Callable[[int], object] | None = None,
) -> Summary:
    """Screen JSON lines from ``source`` to ``sink`` in input order; returns the ``Summary``.

    With ``processes > 1`` forked workers share the parent's matcher copy-on-write (nothing is rebuilt or
    pickled but the queries and results), with a bounded number of chunks in flight.
    """
    global _WORKER_MATCHER
    summary = Summary()
    lines = _read(source, summary.errors)
    with ExitStack() as stack:
        if processes > 1:
            _WORKER_MATCHER = matcher
            stack.callback(_clear_worker_matcher)
            pool = stack.enter_context(ProcessPoolExecutor(processes, mp_context=_fork()))
            results: Iterator[list[tuple[str, int]]] = _bounded(pool, _chunks(lines), processes * 4)
        else:
            results = ([_result_line(matcher, line) for line in chunk] for chunk in _chunks(lines))
        for batch in results:
            sink.write("\n".join(text for text, _hits in batch) + "\n")
            summary.written += len(batch)
            summary.alerting += sum(1 for _text, hits in batch if hits)
            summary.hits += sum(hits for _text, hits in batch)
            if on_progress is not None:
                on_progress(len(batch))
    return summary


def _clear_worker_matcher() -> None:
    global _WORKER_MATCHER
    _WORKER_MATCHER = None


def _fork() -> Any:
    import multiprocessing

    return multiprocessing.get_context("fork")
