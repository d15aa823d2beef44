"""Telling onboarding systems at once when officers changed an outcome.

``app.state.on_outcome_changed`` (set by ``kyc serve``: it enqueues the webhook task) is called with each job whose
outcome a decision changed, right after the decision's transaction committed, so the callback leaves within
seconds. Without it (or when the broker is down) the sweeper sends what is owed on its next round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog
from fastapi import Request

log = structlog.get_logger(__name__)


def notify(request: Request, job_ids: Iterable[str]) -> None:
    hook: Callable[[str], None] | None = getattr(request.app.state, "on_outcome_changed", None)
    for job_id in sorted(set(job_ids)):
        if hook is None:
            log.info("outcome.changed", job_id=job_id, webhook="sweeper")
            continue
        try:
            hook(job_id)
        except Exception as exc:  # the broker is down: the sweeper sends it later
            log.warning("outcome.webhook_enqueue_failed", job_id=job_id, error=type(exc).__name__)
