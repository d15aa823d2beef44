"""Dependencies shared by every router: settings and one database session per request.

``SessionDep`` ends *before* the response is sent (``scope="function"``): the transaction is committed, or rolled
back on an error, before the client is told it succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from kyc.settings import Settings
from kyc.settings import get_settings as _kyc_settings
from kyc.storage.db import transaction


def get_settings() -> Settings:
    """Overridable in tests through ``app.dependency_overrides[get_settings]``."""
    return _kyc_settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (see ``SessionDep``)."""
    with transaction(settings.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
