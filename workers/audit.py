"""The scheduled audit checkpoint: pin the chain's end outside the database (``kyc.checkpoints``)."""

from __future__ import annotations

import structlog

from kyc import checkpoints
from kyc.storage.db import transaction
from workers.app import app, current_settings

log = structlog.get_logger(__name__)


@app.task(name="kyc.audit.checkpoint")  # type: ignore[untyped-decorator]
def checkpoint_task() -> int | None:
    """Write a checkpoint; a chain that does not verify gets none and an error in the log (never retried: an
    operator has to look — ``kyc audit verify`` tells what happened)."""
    settings = current_settings()
    try:
        with transaction(settings.database_url) as session:
            written = checkpoints.take(session, settings)
    except checkpoints.ChainNotIntact as exc:
        log.error("audit.checkpoint.refused", verdict=exc.result.verdict.value, first_bad_id=exc.result.first_bad_id)
        return None
    except checkpoints.CheckpointError as exc:
        log.error("audit.checkpoint.refused", verdict="checkpoint_invalid", reason=exc.message)
        return None
    return written.entry_id if written else None
