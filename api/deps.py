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
from kyc.storage.db import session_factory


def get_settings() -> Settings:
    """Overridable in tests through ``app.dependency_overrides[get_settings]``."""
    return _kyc_settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    session = session_factory(settings.database_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
