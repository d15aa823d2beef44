"""A built matcher as plain columns — integer and float arrays, strings, UTF-8 blobs — and a matcher back from them.

Normalising every list name is the expensive part of building a matcher; its result can be kept and read by
another process in a fraction of the time (``kyc.index_store`` writes and reads these columns as files). Nothing
here is executable data: arrays of numbers, JSON-able strings and text, so reading a stored index cannot run code.

A restored matcher reads list entries and name forms on first use (a query touches a few hundred of a hundred
thousand names), so loading costs neither the time nor the memory of materialising them all.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from kyc.entry import Entry, NameKind
from kyc.errors import Invalid
from kyc.matching.engine import Matcher
from kyc.matching.index import TokenIndex
from kyc.matching.model import ENGINE_VERSION, MatchConfig
from kyc.matching.normalize import NameForm, Part

STATE_FORMAT = 3
"""Bumped whenever the columns below change meaning."""
FORMS_KEPT = 250_000
ENTRIES_KEPT = 60_000
"""How many name forms and entries a restored matcher keeps once made: every list name of today's sources, while
a million-name index in a long-running worker cannot grow back to the size of materialising them all (when the
limit is reached the kept ones are dropped and made again as queries need them)."""

_PARTS = tuple(sorted(Part, key=int))
_NUMBER_CODE = bytes([int(Part.NUMBER)])
_NO_NUMBERS: frozenset[str] = frozenset()
_KINDS = tuple(NameKind)
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}

Array = npt.NDArray[Any]
Bytes = bytes | memoryview | mmap.mmap


@dataclass
class MatcherState:
    """``arrays``: numeric columns; ``meta``: JSON-able values; ``blobs``: UTF-8 text addressed by offset arrays."""

    arrays: dict[str, Array] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    blobs: dict[str, Bytes] = field(default_factory=dict)


def _blob(texts: list[str]) -> tuple[bytes, Array]:
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    if encoded:
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return b"".join(encoded), offsets


def _lines(texts: list[str]) -> bytes:
    """Texts one per line: read back far faster than a JSON list. Index keys and name parts are letters and
    digits; a line break in one would be a bug upstream, refused here rather than silently splitting it."""
    if any("\n" in t for t in texts):
        raise ValueError("a text holds a line break")
    return "\n".join(texts).encode("utf-8")


def _read_lines(blob: Bytes) -> list[str]:
    text = bytes(blob).decode("utf-8")
    return text.split("\n") if text else []


def export(matcher: Matcher, entry_texts: Sequence[str] | None = None) -> MatcherState:
    """Every column ``restore`` needs; entries as their canonical JSON (``Entry.to_data``), or as ``entry_texts``
    when the caller has that JSON already (one text per entry, in the matcher's order)."""
    state = MatcherState()
    arrays, meta, blobs = state.arrays, state.meta, state.blobs
    # Name forms: each token and skeleton once in a vocabulary, per name the range of its parts.
    vocab: dict[str, int] = {}
    starts = [0]
    token_ids: list[int] = []
    skeleton_ids: list[int] = []
    parts: list[int] = []
    weights: list[float] = []
    is_person: list[bool] = []
    forms: Sequence[NameForm] = matcher._forms
    for form in forms:
        for token in form.tokens:
            token_ids.append(vocab.setdefault(token, len(vocab)))
        for skeleton in form.skeletons:
            skeleton_ids.append(vocab.setdefault(skeleton, len(vocab)))
        parts.extend(int(p) for p in form.parts)
        weights.extend(form.weights)
        starts.append(len(token_ids))
        is_person.append(form.is_person)
    arrays["form_starts"] = np.asarray(starts, dtype=np.int64)
    arrays["form_tokens"] = np.asarray(token_ids, dtype=np.int32)
    arrays["form_skeletons"] = np.asarray(skeleton_ids, dtype=np.int32)
    arrays["form_parts"] = np.asarray(parts, dtype=np.uint8)
    arrays["form_weights"] = np.asarray(weights, dtype=np.float64)
    arrays["form_is_person"] = np.asarray(is_person, dtype=np.uint8)
    blobs["originals"], arrays["original_offsets"] = _blob([f.original for f in forms])
    blobs["compacts"], arrays["compact_offsets"] = _blob([f.compact for f in forms])
    blobs["vocab"] = _lines(list(vocab))
    # Names.
    arrays["name_entry"] = np.asarray(matcher._name_entry, dtype=np.int32)
    arrays["name_kind"] = np.asarray([_KIND_CODE[k] for k in matcher._name_kind], dtype=np.uint8)
    arrays["name_reading"] = np.asarray(matcher._name_reading, dtype=np.int32)
    arrays["slot_offsets"] = np.asarray(matcher._slot_offsets, dtype=np.int64)
    # Entries.
    entries = matcher._entries
    arrays["entry_version"] = np.asarray([v for v, _e in entries], dtype=np.int32)
    schemas = sorted(set(matcher._entry_schema))
    code = {s: i for i, s in enumerate(schemas)}
    arrays["entry_schema"] = np.asarray([code[s] for s in matcher._entry_schema], dtype=np.uint8)
    meta["schemas"] = schemas
    if entry_texts is not None and len(entry_texts) != len(entries):
        raise ValueError("one entry text per entry")
    blobs["entries"], arrays["entry_offsets"] = _blob(
        list(entry_texts)
        if entry_texts is not None
        else [json.dumps(e.to_data(), ensure_ascii=False, separators=(",", ":")) for _v, e in entries]
    )
    # Index and the rest.
    keys, index_arrays = matcher._index.arrays()
    blobs["index_keys"] = _lines(keys)
    arrays.update({f"index_{name}": value for name, value in index_arrays.items()})
    # A blob of its own, parsed only when a query carries an identifier: most of the meta file's bytes otherwise.
    blobs["identifiers"] = json.dumps(dict(matcher._identifiers), separators=(",", ":")).encode("utf-8")
    meta["version_ids"] = matcher.version_ids
    meta["config"] = matcher.config.model_dump(mode="json", by_alias=True)
    meta["engine_version"] = matcher.engine_version
    meta["format"] = STATE_FORMAT
    return state


class _Texts:
    """The i-th text of a blob, decoded when asked for."""

    __slots__ = ("_blob", "_offsets")

    def __init__(self, blob: Bytes, offsets: Array) -> None:
        self._blob = memoryview(blob)
        self._offsets = offsets

    def __getitem__(self, index: int) -> str:
        return str(self._blob[self._offsets.item(index) : self._offsets.item(index + 1)], "utf-8")

    def raw(self, index: int) -> memoryview:
        return self._blob[self._offsets.item(index) : self._offsets.item(index + 1)]


class _StoredForms(Sequence[NameForm]):
    """Name forms made from the columns on first use, then kept."""

    def __init__(self, state: MatcherState) -> None:
        a = state.arrays
        self._vocab = _read_lines(state.blobs["vocab"])
        self._starts, self._tokens, self._skeletons = a["form_starts"], a["form_tokens"], a["form_skeletons"]
        self._parts, self._weights, self._is_person = a["form_parts"], a["form_weights"], a["form_is_person"]
        self._originals = _Texts(state.blobs["originals"], a["original_offsets"])
        self._compacts = _Texts(state.blobs["compacts"], a["compact_offsets"])
        self._made: list[NameForm | None] = [None] * (len(self._starts) - 1)
        self._kept = 0
        self._shared_parts: dict[bytes, tuple[Part, ...]] = {}

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, index: int) -> NameForm: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[NameForm]: ...
    def __getitem__(self, index: int | slice) -> NameForm | Sequence[NameForm]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._made)
        form = self._made[index]
        if form is None:
            if self._kept >= FORMS_KEPT:
                self._made, self._kept = [None] * len(self._made), 0
            form = self._made[index] = self._make(index)
            self._kept += 1
        return form

    def _make(self, index: int) -> NameForm:
        start, end = self._starts.item(index), self._starts.item(index + 1)
        vocab = self._vocab
        tokens = tuple([vocab[i] for i in self._tokens[start:end].tolist()])
        skeletons = tuple([vocab[i] for i in self._skeletons[start:end].tolist()])
        codes = self._parts[start:end].tobytes()
        parts = self._shared_parts.get(codes)
        if parts is None:
            parts = self._shared_parts[codes] = tuple(_PARTS[c] for c in codes)
        numbers = _NO_NUMBERS
        if _NUMBER_CODE in codes:
            numbers = frozenset(t for t, p in zip(tokens, parts, strict=True) if p is Part.NUMBER)
        return NameForm(
            original=self._originals[index],
            tokens=tokens,
            parts=parts,
            skeletons=tokens if skeletons == tokens else skeletons,
            numbers=numbers,
            weights=tuple(self._weights[start:end].tolist()),
            compact=self._compacts[index],
            is_person=bool(self._is_person.item(index)),
        )


class _StoredEntries(Sequence[tuple[int, Entry]]):
    """``(version_id, entry)`` pairs parsed from their JSON on first use, then kept."""

    def __init__(self, state: MatcherState) -> None:
        self._versions = state.arrays["entry_version"]
        self._texts = _Texts(state.blobs["entries"], state.arrays["entry_offsets"])
        self._made: list[tuple[int, Entry] | None] = [None] * len(self._versions)
        self._kept = 0

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, index: int) -> tuple[int, Entry]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[int, Entry]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, Entry] | Sequence[tuple[int, Entry]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._made)
        pair = self._made[index]
        if pair is None:
            if self._kept >= ENTRIES_KEPT:
                self._made, self._kept = [None] * len(self._made), 0
            entry = Entry.model_validate_json(bytes(self._texts.raw(index)))
            pair = self._made[index] = (self._versions.item(index), entry)
            self._kept += 1
        return pair


class _StoredIdentifiers(Mapping[str, list[int]]):
    """The identifier look-up, parsed from its JSON on first use."""

    def __init__(self, blob: Bytes) -> None:
        self._blob = blob
        self._parsed: dict[str, list[int]] | None = None

    def _table(self) -> dict[str, list[int]]:
        if self._parsed is None:
            self._parsed = json.loads(bytes(self._blob)) if len(self._blob) else {}
        return self._parsed

    def __getitem__(self, key: str) -> list[int]:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


class StateMismatch(Invalid):
    """The stored columns are of another format or engine: build anew rather than read them."""


def restore(state: MatcherState) -> Matcher:
    """A matcher screening exactly as the one ``export`` was given."""
    meta, a = state.meta, state.arrays
    if meta.get("format") != STATE_FORMAT or meta.get("engine_version") != ENGINE_VERSION:
        raise StateMismatch(f"stored index format {meta.get('format')}, engine {meta.get('engine_version')}")
    schemas: list[str] = meta["schemas"]
    index = TokenIndex.from_arrays(
        _read_lines(state.blobs["index_keys"]),
        {k.removeprefix("index_"): v for k, v in a.items() if k.startswith("index_")},
    )
    return Matcher(
        _StoredEntries(state),
        _StoredForms(state),
        np.asarray(a["name_entry"], dtype=np.int32),
        [_KINDS[c] for c in a["name_kind"].tolist()],
        index,
        np.asarray(a["slot_offsets"], dtype=np.int64),
        a["name_reading"].tolist(),
        _StoredIdentifiers(state.blobs["identifiers"]),
        MatchConfig.model_validate(meta["config"]),
        entry_schema=[schemas[c] for c in a["entry_schema"].tolist()],
        version_ids=dict(meta["version_ids"]),
        compacts=_Texts(state.blobs["compacts"], a["compact_offsets"]),
    )
