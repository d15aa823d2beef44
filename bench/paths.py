"""Where the shared data lives (official list files and evaluation sets), for the tests and the benchmarks.

They are read in place, never copied into the repository. The data sits beside the repository (``../shared``); a
clone made elsewhere (``git clone /work/main /tmp/fresh``) finds it beside the repository it was cloned from;
``KYC_SHARED_DIR`` overrides both.
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def shared_dir() -> Path:
    """The ``shared`` folder; when none is found, the expected place (the caller then names the missing file)."""
    if configured := os.environ.get("KYC_SHARED_DIR"):
        return Path(configured)
    beside = REPO.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(REPO), "remote", "get-url", "origin"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    if origin and Path(origin).is_dir():
        candidate = Path(origin).resolve().parent / "shared"
        if candidate.is_dir():
            return candidate
    return beside


def shared_data() -> Path:
    return shared_dir() / "data"
