"""The candidate index's own arithmetic."""

from __future__ import annotations

import numpy as np

from kyc.matching.index import _union, stable_hash


def test_union_is_numpys_union1d() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        a = rng.integers(0, 40, int(rng.integers(0, 25)))
        b = rng.integers(0, 40, int(rng.integers(0, 25)))
        for left, right in ((a.astype(np.int64), b.astype(np.int32)), (a.astype(np.int32), np.empty(0, np.int32))):
            ours, numpys = _union(left, right), np.union1d(left, right)
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
