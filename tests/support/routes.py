"""Every (method, path) an application serves, descending into included routers and mounted apps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route


def _walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every endpoint, descending into included routers."""
    for route in routes:
        if isinstance(route, APIRoute | Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # FastAPI's included-router node
            context = getattr(route, "include_context", None)
            yield from _walk(route.original_router.routes, prefix + getattr(context, "prefix", ""))
        elif hasattr(route, "routes"):  # a mounted sub-application
            yield from _walk(route.routes, prefix + getattr(route, "path", ""))
        else:
            raise AssertionError(f"unknown route type {type(route).__name__}: extend _walk")


def endpoints(app: FastAPI) -> set[tuple[str, str]]:
    return set(_walk(app.routes))
