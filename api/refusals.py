"""Refused attempts stay on record: the request's transaction is rolled back with the error, so the refusal is
written to the audit log in a transaction of its own before the error reaches the client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from kyc import audit
from kyc.access import Principal
from kyc.errors import KycError, Refused
from kyc.settings import Settings
from kyc.storage.db import transaction


@contextmanager
def recorded(
    settings: Settings,
    session: Session,
    principal: Principal,
    *,
    action: str,
    object_type: str,
    object_id: str,
    kinds: tuple[type[KycError], ...] = (Refused,),
    purpose: str = "security",
    details: Mapping[str, Any] | None = None,
    reason_chars: int = 200,
) -> Iterator[None]:
    """Around one domain call: an error of ``kinds`` is audited as ``action`` (with its message), then re-raised
    for the one handler in ``api.errors`` to answer."""
    try:
        yield
    except kinds as exc:
        session.rollback()
        with transaction(settings.database_url) as own:
            audit.record(
                own,
                actor=principal,
                action=action,
                object_type=object_type,
                object_id=object_id,
                purpose=purpose,
                details={**dict(details or {}), "reason": exc.message[:reason_chars]},
            )
        raise
