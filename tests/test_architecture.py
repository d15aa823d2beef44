"""The dependency direction DESIGN.md fixes: api -> kyc, workers -> kyc + lists, lists -> kyc; kyc imports none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.env import REPO

FORBIDDEN = {
    "kyc": {"api", "workers", "lists", "cli"},
    "lists": {"api", "workers", "cli"},
    "api": {"workers", "lists", "cli"},
    "workers": {"api", "cli"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_the_layering_allows(package: str) -> None:
    violations = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / package).rglob("*.py"))
        for name in sorted(_imports(path) & FORBIDDEN[package])
    ]
    assert violations == []


def test_test_modules_do_not_import_each_other() -> None:
    """Shared helpers live in ``tests/support``; a test module importing another couples their fixtures."""
    violations = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "tests").rglob("test_*.py"))
        for name in sorted(_test_imports(path))
    ]
    assert violations == []


def _test_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
        found.update(m for m in modules if m.startswith("tests.") and m.rsplit(".", 1)[-1].startswith("test_"))
    return found
