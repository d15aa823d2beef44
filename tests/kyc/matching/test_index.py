"""The candidate index's own arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from kyc.matching.index import MAX_CANDIDATES, IndexBuilder, TokenIndex, _weigh, stable_hash, union_ids


def test_union_is_numpys_union1d() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        a = rng.integers(0, 40, int(rng.integers(0, 25)))
        b = rng.integers(0, 40, int(rng.integers(0, 25)))
        for left, right in ((a.astype(np.int64), b.astype(np.int32)), (a.astype(np.int32), np.empty(0, np.int32))):
            ours, numpys = union_ids(left, right), np.union1d(left, right)
            assert ours.dtype == numpys.dtype and ours.tolist() == numpys.tolist()


def test_stable_hash_is_the_same_in_every_process() -> None:
    import subprocess
    import sys

    here = [stable_hash(text) for text in ("altikriti", "saddamhussein", "ä")]
    there = subprocess.run(
        [sys.executable, "-c", "from kyc.matching.index import stable_hash as h; "
         "print([h(t) for t in ('altikriti', 'saddamhussein', 'ä')])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert str(here) == there and len(set(here)) == 3


def _index(postings: dict[str, list[int]]) -> TokenIndex:
    builder = IndexBuilder()
    by_name: dict[int, list[str]] = {}
    for key, names in postings.items():
        for name in names:
            by_name.setdefault(name, []).append(key)
    for name in sorted(by_name):
        builder.add(name, by_name[name], "")
    return builder.freeze()


def test_each_part_counts_its_heaviest_key_once() -> None:
    rng = np.random.default_rng(7)
    keys = [f"k{i}" for i in range(30)]
    postings = {key: sorted({int(n) for n in rng.integers(0, 200, int(rng.integers(1, 60)))}) for key in keys}
    index = _index(postings)
    weight = {key: float(index._idf[index._slots[key]]) for key in keys}
    for _ in range(50):
        groups = [tuple(rng.choice(keys, int(rng.integers(1, 5)), replace=False)) for _ in range(3)]
        expected: dict[int, float] = {}
        for group in groups:
            best: dict[int, float] = {}
            for key in group:
                for name in postings[key]:
                    best[name] = max(best.get(name, 0.0), weight[key])
            for name, w in best.items():
                expected[name] = expected.get(name, 0.0) + w
        keyed = sorted(
            (
                (weight[k], g, np.asarray(postings[k], dtype=np.int32))
                for g, group in enumerate(groups)
                for k in set(group)
            ),
            key=lambda item: -item[0],
        )
        unique, totals = _weigh([k[2] for k in keyed], [k[0] for k in keyed], [k[1] for k in keyed], len(groups))
        assert unique.tolist() == sorted(expected)
        assert np.allclose(totals, [expected[n] for n in sorted(expected)], rtol=1e-5)


def test_names_sharing_every_part_are_all_kept_but_not_names_sharing_one_part_of_two() -> None:
    # 300 names share both parts of a query: all are candidates (up to the bound), whatever the limit.
    both = _index({"tonya": list(range(300)), "robbins": list(range(300)), "other": [300]})
    assert len(both.candidates([("tonya",), ("robbins",)], [], limit=12)) == MAX_CANDIDATES
    # Only the sound of the given name is found, the surname not at all: the limit holds.
    one = _index({"#tn": list(range(300)), "other": [300]})
    found = one.retrieve([("tonya", "#tn"), ("robbins", "#rbns")], [], limit=12)
    assert len(found.ranked) == 12  # the others are handed back apart, to be ranked by their spelling
    assert len(found.partial) == 300 - 12 and not set(found.partial.tolist()) & set(found.ranked.tolist())
    # A one-part query keeps every name holding its part (Gazprom: each listing of it).
    assert len(one.candidates([("tonya", "#tn")], [], limit=12)) == MAX_CANDIDATES


def test_names_sharing_the_listed_parts_are_ranked_by_spelling_when_a_part_is_unlisted() -> None:
    # TAGRIZ PETROCHEMICAL: "tagriz" is no listed word, but its sound finds two rare names (weightier than the
    # common word); the 100 names sharing "petrochemical" are handed back for ranking by spelling, on request.
    index = _index({"petrochemical": list(range(100)), "#tkrs": [100, 101], "other": list(range(102, 400))})
    groups = [("tagriz", "#tkrs"), ("petrochemical",)]
    asked = index.retrieve(groups, [], limit=12, by_spelling=True)
    assert {100, 101} <= set(asked.ranked.tolist()) and len(asked.ranked) == 12
    assert sorted([*asked.ranked.tolist(), *asked.partial.tolist()]) == list(range(102))
    assert not len(index.retrieve(groups, [], limit=12).partial)
    # Every part listed as written: only the names tied with the last one kept are handed back.
    listed = _index({"petrochemical": list(range(100)), "tagriz": [100, 101], "#tkrs": [100, 101]})
    found = listed.retrieve([("tagriz", "#tkrs"), ("petrochemical",)], [], 12, by_spelling=True)
    assert {100, 101} <= set(found.ranked.tolist())
    assert set(found.partial.tolist()) == set(range(100)) - set(found.ranked.tolist())


def test_names_sharing_every_part_beyond_the_bound_are_ranked_by_spelling_on_request() -> None:
    # COMMERCIAL BANK OF SYRIA-RYHMÄ: "bank" is its only key, and 300 names hold it.
    index = _index({"bank": list(range(300)), "other": [300]})
    asked = index.retrieve([("bank",)], [], limit=12, by_spelling=True)
    assert len(asked.ranked) == MAX_CANDIDATES
    assert sorted([*asked.ranked.tolist(), *asked.partial.tolist()]) == list(range(300))
    assert not len(index.retrieve([("bank",)], [], limit=12).partial)


def test_names_tied_with_the_last_one_kept_are_ranked_by_spelling_on_request() -> None:
    # The 10 names sharing the rarer key are kept, and 2 of the 30 sharing the other, as heavy each: the other 28
    # are not dropped at random.
    index = _index({"rehman": list(range(30)), "#rmn": list(range(30, 40)), "other": list(range(40, 400))})
    asked = index.retrieve([("rehman", "#rmn")], [], limit=12, by_spelling=True)
    assert set(range(30, 40)) <= set(asked.ranked.tolist())
    assert sorted([*asked.ranked.tolist(), *asked.partial.tolist()]) == list(range(40))
    assert not len(index.retrieve([("rehman", "#rmn")], [], limit=12).partial)


def test_adding_by_group_ids_files_each_name_under_the_same_keys_as_adding_by_keys() -> None:
    from kyc.matching.normalize import name_form

    names = ["Saddam Hussein al-Tikriti", "Hussein Hussein", "Ali Hassan", "Vessel 7", "Oy Ab", "al bin"]
    by_keys, by_groups = IndexBuilder(), IndexBuilder()
    for slot, name in enumerate(names):
        form = name_form(name, "Person" if slot % 2 else "Organization")
        by_keys.add(slot, form.index_keys(), form.compact)
        by_groups.add_ids(slot, [i for group in form.key_groups() for i in by_groups.key_ids(group)], form.compact)

    def postings(index: TokenIndex) -> dict[str, list[int]]:
        keys, arrays = index.arrays()
        offsets, ids = arrays["offsets"], arrays["ids"]
        return {key: ids[offsets[k] : offsets[k + 1]].tolist() for k, key in enumerate(keys)}

    assert postings(by_keys.freeze()) == postings(by_groups.freeze())


def test_the_ids_under_each_key_ascend_in_whatever_order_names_were_filed() -> None:
    rng = np.random.default_rng(3)
    names = [int(n) for n in rng.permutation(300)]
    postings: dict[str, list[int]] = {}
    builder = IndexBuilder()
    for name in names:
        keys = [f"k{int(k)}" for k in rng.choice(40, size=int(rng.integers(1, 6)), replace=False)]
        builder.add(name, keys, f"compact{name}")
        for key in keys:
            postings.setdefault(key, []).append(name)
    index = builder.freeze()
    for key, filed in postings.items():
        slot = index._slots[key]
        assert index._ids[index._offsets[slot] : index._offsets[slot + 1]].tolist() == sorted(filed), key


def test_a_negative_name_id_is_refused_rather_than_filed_under_another_key() -> None:
    builder = IndexBuilder()
    builder.add(3, ["a"], "")
    builder.add(-1, ["b"], "")
    with pytest.raises(ValueError, match="negative"):
        builder.freeze()
