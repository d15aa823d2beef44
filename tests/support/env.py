"""Where the suite finds its real data and services: the list files in shared/data, PostgreSQL and Redis."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from bench.paths import shared_data

REPO = Path(__file__).resolve().parents[2]
SHARED = shared_data()
LISTS = SHARED / "lists"
EVAL = SHARED / "eval"
PG_ADMIN_URL = os.environ.get("KYC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def list_file(relative: str) -> Path:
    path = LISTS / relative
    if not path.is_file():
        pytest.fail(
            f"list file {path} is missing: tests read the real files in place from shared/data/lists "
            "beside the repository (or its origin), or from KYC_SHARED_DIR"
        )
    return path


def eval_file(relative: str) -> Path:
    path = EVAL / relative
    if not path.is_file():
        pytest.fail(f"evaluation file {path} is missing (shared/data/eval; see bench/paths.py, KYC_SHARED_DIR)")
    return path


def load_script(name: str) -> ModuleType:
    """A module of ``scripts/`` (not a package), loaded from its file: the generators tests compare with."""
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
