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


def test_routers_hold_no_sql() -> None:
    """Routers parse, call kyc and respond: queries and rules live in ``kyc``."""
    violations = [
        f"{path.relative_to(REPO)} imports sqlalchemy"
        for folder in (REPO / "api" / "routers", REPO / "api" / "ui" / "routes")
        for path in sorted(folder.rglob("*.py"))
        if "sqlalchemy" in _imports(path)
    ]
    assert violations == []


ENGINE_FORBIDDEN = ("kyc.storage", "kyc.versions", "sqlalchemy")


def _full_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_matching_engine_is_pure() -> None:
    """The engine builds and screens over entries it is given: where they are stored is the caller's business."""
    violations = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "kyc" / "matching").rglob("*.py"))
        for name in sorted(_full_imports(path))
        if any(name == bad or name.startswith(bad + ".") for bad in ENGINE_FORBIDDEN)
    ]
    assert violations == []


MAX_MODULE_LINES = 400
SIZE_REASON = "# Over 400 lines:"


def test_large_kyc_modules_say_why() -> None:
    """One concept per module: a module of the core over 400 lines says in its first lines why it stays whole."""
    violations = []
    for path in sorted((REPO / "kyc").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(line.startswith(SIZE_REASON) for line in lines[:3]):
            violations.append(f"{path.relative_to(REPO)}: {len(lines)} lines and no '{SIZE_REASON} …' line")
    assert violations == []


def test_every_domain_error_is_a_kyc_error() -> None:
    """Callers map one family (``kyc.errors``); an exception of the core or the adapters outside it would be a 500."""
    import importlib
    import inspect

    from kyc.errors import KycError

    outside = []
    for package in ("kyc", "lists"):
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            module = importlib.import_module(name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, KycError):
                    outside.append(f"{name}.{cls.__name__}")
    assert outside == []
