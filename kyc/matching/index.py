"""The candidate index: name keys (tokens, romanisation skeletons, phonetic and anagram codes) to ids.

The ids are whatever the caller adds; the matcher adds one per distinct normalised name form (a slot shared by
every list name with that form), so that the ranking compares different names, not copies of one name.

Stored compactly because it must hold a million names in well under a gigabyte: one ``int32`` array of all
postings with per-key offsets (CSR), and the spaceless whole-name forms as a sorted array of 64-bit hashes
rather than a dictionary entry per name.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int32]
_NONE: IntArray = np.empty(0, dtype=np.int32)
FULL_COVERAGE = 0.9
"""Names sharing at least this share of the query's best possible key weight are always scored."""
MAX_CANDIDATES = 200
"""Upper bound on names scored per query name, so that a query made only of common parts stays fast."""
MAX_PARTIAL = 1000
"""Upper bound on the names handed back for ranking by spelling (see ``Retrieved.partial``)."""


class Retrieved(NamedTuple):
    ranked: IntArray
    """Ids to score: the best by shared key weight, every id sharing (nearly) all the query's parts, and the ids
    whose spaceless form is the query's."""
    partial: IntArray
    """Ids to rank by their whole spelling before any is scored (empty otherwise): when some query parts were
    found by no key at all and only one was, the other ids sharing that part; on request (``by_spelling``), also
    the ids that key weights cannot tell apart from those kept (see ``TokenIndex.retrieve``)."""


def stable_hash(text: str) -> int:
    """A 64-bit hash that is the same in every process (``hash()`` of a string is salted per process), so that an
    index written by one process can be read by another."""
    return int.from_bytes(_digest(text), "little", signed=True)


def _digest(text: str) -> bytes:
    """``stable_hash`` as its 8 bytes, which the build collects as they are (a million names, no int each)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


class IndexBuilder:
    """Collects (key, name) pairs in flat integer arrays while names are normalised (a list per key would cost
    more memory than the finished index): the keys in one array, each name once with its count of keys in two
    more. ``freeze`` sorts them into a ``TokenIndex``, whose ids under each key ascend. Name ids are int32 >= 0."""

    def __init__(self) -> None:
        self._key_ids: dict[str, int] = {}
        self._group_ids: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._pair_keys = array("i")
        self._filed_names = array("i")
        self._filed_counts = array("i")
        self._compact_hashes = bytearray()  # ``stable_hash`` of each compact, as 8 little-endian bytes
        self._compact_ids = array("i")
        self._count = 0

    def add(self, name_id: int, keys: Iterable[str], compact: str) -> None:
        key_ids = self._key_ids
        self._file(name_id, [key_ids.setdefault(key, len(key_ids)) for key in keys], compact)  # new key: next id

    def key_ids(self, group: tuple[str, ...]) -> tuple[int, ...]:
        """The ids of one group of keys (a new key gets the next id), remembered per group: the groups of
        ``NameForm.key_groups`` recur across a million names."""
        known = self._group_ids.get(group)
        if known is None:
            key_ids = self._key_ids
            known = self._group_ids[group] = tuple({key_ids.setdefault(key, len(key_ids)) for key in group})
        return known

    def add_ids(self, name_id: int, key_ids: list[int], compact: str) -> None:
        """File a name under key ids from ``key_ids`` (a key repeated across groups is filed once)."""
        self._file(name_id, key_ids if len(set(key_ids)) == len(key_ids) else list(dict.fromkeys(key_ids)), compact)

    def _file(self, name_id: int, key_ids: list[int], compact: str) -> None:
        self._pair_keys.extend(key_ids)
        self._filed_names.append(name_id)
        self._filed_counts.append(len(key_ids))
        if len(compact) > 5:
            self._compact_hashes += _digest(compact)
            self._compact_ids.append(name_id)
        if name_id >= self._count:
            self._count = name_id + 1

    @property
    def slot_count(self) -> int:
        """Ids added so far (the matcher adds one per distinct name form)."""
        return self._count

    def freeze(self) -> TokenIndex:
        keys = np.frombuffer(self._pair_keys, dtype=np.int32) if len(self._pair_keys) else np.empty(0, np.int32)
        names = np.asarray(self._filed_names, dtype=np.int64)
        if len(names) and int(names.min()) < 0:
            raise ValueError("name ids must not be negative")
        # Sorted by key, then name id: one sort of both as a 64-bit number, the key above and the name id (an
        # int32 >= 0) below, built in place so that no second array of pairs is held.
        pairs = keys.astype(np.int64)
        pairs <<= 32
        pairs |= np.repeat(names, np.asarray(self._filed_counts, dtype=np.int64))
        pairs.sort(kind="stable")  # timsort, which gains from the runs the pairs arrive in
        ids = pairs.astype(np.int32)  # the low 32 bits: the name id
        del pairs
        lengths = np.bincount(keys, minlength=len(self._key_ids)).astype(np.int64)
        offsets = np.zeros(len(self._key_ids) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        idf = np.log1p(max(self._count, 1) / np.maximum(lengths, 1)).astype(np.float32)
        hashes = np.frombuffer(self._compact_hashes, dtype="<i8") if self._compact_hashes else np.empty(0, np.int64)
        compact_order = np.argsort(hashes, kind="stable")
        compact_ids = np.asarray(self._compact_ids, dtype=np.int32)[compact_order]
        index = TokenIndex(self._key_ids, offsets, ids, idf, hashes[compact_order].astype(np.int64), compact_ids)
        self._key_ids, self._group_ids = {}, {}
        self._pair_keys, self._filed_names, self._filed_counts = array("i"), array("i"), array("i")
        self._compact_hashes, self._compact_ids = bytearray(), array("i")
        return index


class TokenIndex:
    """Immutable once built; safe to share between threads and forked worker processes."""

    def __init__(
        self,
        slots: dict[str, int],
        offsets: npt.NDArray[np.int64],
        ids: IntArray,
        idf: npt.NDArray[np.float32],
        compact_hashes: npt.NDArray[np.int64],
        compact_ids: IntArray,
    ) -> None:
        self._slots = slots
        self._offsets = offsets
        self._ids = ids
        self._idf = idf
        self._compact_hashes = compact_hashes
        self._compact_ids = compact_ids

    def candidates(self, groups: Iterable[Sequence[str]], compacts: Iterable[str], limit: int) -> IntArray:
        """``retrieve``'s ranked ids (its partial ones left out)."""
        return self.retrieve(groups, compacts, limit).ranked

    def retrieve(
        self, groups: Iterable[Sequence[str]], compacts: Iterable[str], limit: int, by_spelling: bool = False
    ) -> Retrieved:
        """The ``limit`` ids with the most inverse-frequency weight shared with the query, plus every id whose
        spaceless form equals one of ``compacts``.

        Each group holds the alternative keys of one query part, the part itself first; a name scores the rarest
        key it shares per group, so that a common part found three ways (Mohamed: token, skeleton, phonetic code)
        does not outweigh a rare part found once (LAKAHL / LAKHAL by its letters).

        With ``by_spelling``, the names key weights cannot tell apart are handed back to be ranked by spelling
        (``Retrieved.partial``) rather than cut at random or lost:
        - when a query part is no word of any listed name (a typo, or a word no list holds) but its other keys
          find names, while other parts are found as written, the names sharing those other parts: the rare
          names the unlisted part's letters happen to share (TAGRIZ: *Tagr…*) would otherwise outrank the listed
          name it misspells (TABRIZ PETROCHEMICAL COMPANY), which shares only the common words;
        - the names sharing every part found beyond ``MAX_CANDIDATES`` (COMMERCIAL BANK OF SYRIA-RYHMÄ: only
          *bank* is a key, and hundreds of names share it);
        - the names as heavy as the last one kept, which the cut at ``limit`` would otherwise choose among at
          random.
        """
        slots, idf, offsets, ids = self._slots, self._idf, self._offsets, self._ids
        keyed: list[tuple[float, int, IntArray]] = []  # (weight, query part, ids) of each key found
        heaviest: dict[int, float] = {}
        listed: set[int] = set()  # the parts found as written
        n_groups = 0
        for group in groups:
            if by_spelling and group and group[0] in slots:
                listed.add(n_groups)
            for key in set(group):
                slot = slots.get(key)
                if slot is not None:
                    weight = idf.item(slot)
                    keyed.append((weight, n_groups, ids[offsets.item(slot) : offsets.item(slot + 1)]))
                    if weight > heaviest.get(n_groups, -1.0):
                        heaviest[n_groups] = weight
            n_groups += 1
        exact = self._compact_matches(compacts)
        if not keyed:
            return Retrieved(exact, _NONE)
        # Heaviest keys first: after a stable sort by (name, part), the first key of each pair is its heaviest.
        keyed.sort(key=lambda item: -item[0])
        unique, totals = _weigh([k[2] for k in keyed], [k[0] for k in keyed], [k[1] for k in keyed], n_groups)
        partial = _NONE
        if len(unique) > limit:
            top = (-totals).argpartition(limit)[:limit]
            complete = (totals >= FULL_COVERAGE * sum(heaviest[k] for k in sorted(heaviest))).nonzero()[0]
            if len(heaviest) == n_groups or len(heaviest) > 1:
                # Every name sharing (nearly) all the query's parts is kept, whatever ``limit`` says: the same
                # person is listed by several sources under several aliases, and each listing is its own hit.
                # Beyond the bound, and tied with the last name kept, only spelling can rank them.
                pool = union_ids(complete, _tied_at_cut(totals, top)) if by_spelling else _NONE
                if len(complete) > MAX_CANDIDATES:
                    complete = complete[(-totals[complete]).argpartition(MAX_CANDIDATES)[:MAX_CANDIDATES]]
                top = union_ids(top, complete)
                if by_spelling and listed and len(listed) < len(heaviest):
                    sharing = (totals >= FULL_COVERAGE * sum(heaviest[k] for k in sorted(listed))).nonzero()[0]
                    pool = union_ids(pool, sharing)
                if len(pool):
                    partial = _others(unique, totals, pool, top)
            else:
                # One part of several found, the others by no key at all (a typo in the one distinctive word,
                # BEHFAN OIL for BEHRAN OIL): the names sharing that part are handed back for the caller to rank
                # by their whole spelling, since the part alone cannot tell them apart.
                partial = _others(unique, totals, complete, top)
            unique = unique[top]
        if len(exact):
            unique = union_ids(unique, exact)
        return Retrieved(unique.astype(np.int32, copy=False), partial)

    def _compact_matches(self, compacts: Iterable[str]) -> IntArray:
        found: list[IntArray] = []
        for compact in compacts:
            if len(compact) <= 5:
                continue
            value = stable_hash(compact)
            left = int(self._compact_hashes.searchsorted(value, side="left"))
            right = int(self._compact_hashes.searchsorted(value, side="right"))
            if right > left:
                found.append(self._compact_ids[left:right])
        if not found:
            return np.empty(0, dtype=np.int32)
        return np.concatenate(found)

    @property
    def key_count(self) -> int:
        return len(self._slots)

    def arrays(self) -> tuple[list[str], dict[str, npt.NDArray[np.generic]]]:
        """The keys in slot order and the arrays: everything ``from_arrays`` needs to rebuild this index."""
        keys = [""] * len(self._slots)
        for key, slot in self._slots.items():
            keys[slot] = key
        return keys, {
            "offsets": self._offsets,
            "ids": self._ids,
            "idf": self._idf,
            "compact_hashes": self._compact_hashes,
            "compact_ids": self._compact_ids,
        }

    @classmethod
    def from_arrays(cls, keys: list[str], arrays: dict[str, npt.NDArray[np.generic]]) -> TokenIndex:
        return cls(
            dict(zip(keys, range(len(keys)), strict=True)),
            np.asarray(arrays["offsets"], dtype=np.int64),
            np.asarray(arrays["ids"], dtype=np.int32),
            np.asarray(arrays["idf"], dtype=np.float32),
            np.asarray(arrays["compact_hashes"], dtype=np.int64),
            np.asarray(arrays["compact_ids"], dtype=np.int32),
        )


def _tied_at_cut(totals: npt.NDArray[np.float32], top: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """The positions whose weight equals the lightest of ``top``: where ``argpartition`` cut among equals."""
    tied: npt.NDArray[np.int64] = (totals == totals[top].min()).nonzero()[0]
    return tied


def _others(
    unique: npt.NDArray[np.int64], totals: npt.NDArray[np.float32], pool: npt.NDArray[Any], top: npt.NDArray[Any]
) -> IntArray:
    """The ids at positions ``pool`` (at most ``MAX_PARTIAL``, the heaviest) that are not at positions ``top``."""
    if len(pool) > MAX_PARTIAL:
        pool = pool[(-totals[pool]).argpartition(MAX_PARTIAL)[:MAX_PARTIAL]]
    keep = np.zeros(len(unique), dtype=bool)
    keep[pool] = True
    keep[top] = False
    return unique[keep].astype(np.int32, copy=False)


def union_ids(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.union1d`` (sorted, without repeats) without its masked-array check, whose first use imports
    ``numpy.ma``: a tenth of a second of every ``kyc screen`` call."""
    both = np.concatenate((a, b))
    both.sort()
    if len(both) < 2:
        return both
    keep = np.empty(len(both), dtype=bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def _weigh(
    slices: list[IntArray], weights: list[float], group_of: list[int], n_groups: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Per name: the sum over query parts of the highest key weight it shares in that part, in one sort.

    ``slices`` must come heaviest key first: one stable sort by (name, part) then leaves each pair's heaviest key
    at the front of its run (cheaper than sorting by weight as a second key). A sort rather than adding into an
    array as long as the index: over a million names the scattered writes cost twice the sort."""
    lengths = np.fromiter((len(s) for s in slices), dtype=np.int64, count=len(slices))
    ids = np.concatenate(slices).astype(np.int64)
    w = np.asarray(weights, dtype=np.float32).repeat(lengths)
    combined = ids * n_groups + np.asarray(group_of, dtype=np.int64).repeat(lengths)
    order = combined.argsort(kind="stable")
    combined, w = combined[order], w[order]
    first = np.ones(len(combined), dtype=bool)
    np.not_equal(combined[1:], combined[:-1], out=first[1:])
    names, best = combined[first] // n_groups, w[first]
    starts = (names[1:] != names[:-1]).nonzero()[0] + 1
    starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
    return names[starts], np.add.reduceat(best, starts)
