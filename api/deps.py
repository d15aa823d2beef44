"""Dependencies shared by every router: settings and one database session per request.

``SessionDep`` ends *before* the response is sent (``scope="function"``): the transaction is committed, or rolled
back on an error, before the client is told it succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from kyc.matcher_cache import matcher_for
from kyc.screening import MatcherScreener, Screener
from kyc.settings import Settings
from kyc.settings import get_settings as _kyc_settings
from kyc.storage.db import transaction


async def get_settings(request: Request) -> Settings:
    """The settings ``create_app`` was given, else the environment's; overridable in tests through
    ``app.dependency_overrides[get_settings]``.

    ``async`` so that FastAPI calls it on the event loop: a plain ``def`` dependency costs a thread-pool hop on
    every request. ``create_app`` stores its settings on ``app.state`` instead of overriding this dependency,
    because FastAPI re-inspects an override's signature on every request.
    """
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings if settings is not None else _kyc_settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (see ``SessionDep``)."""
    with transaction(settings.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_screener(settings: SettingsDep) -> Screener:
    """The process's matcher over every active list version (built once, swapped when a version changes)."""
    return MatcherScreener(matcher_for(settings))


ScreenerDep = Annotated[Screener, Depends(get_screener)]
