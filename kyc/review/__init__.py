"""Review: officers' decisions on hits with four eyes, blocks and their lifting, authority notifications, the queue.

* ``four_eyes`` — the pure rules: which verdicts need a second officer, what a second decision means;
* ``decisions`` — recording and applying a decision (suppression on dismissal, block and notification on a
  confirmed sanctions match, the outcome recomputed);
* ``blocks`` — lifting a block: two officers and a ground, after the report;
* ``notifications`` — authority notifications and recording them as sent;
* ``queue`` — the hit queue and a hit beside its list entry;
* ``cases`` — the case queue (filters, paging, SLA), a case's detail, claiming, assigning and comments;
* ``case_decisions`` — one verdict on a case applied to its hits, bulk decisions, the ownership-and-control case;
* ``pep`` — senior management's approval or refusal of PEP relationships.

No adverse outcome is automatic: ``match``, the block and the authority notification follow only from a confirmed
``true_match``, i.e. two different people's decisions.
"""

from kyc.review.blocks import LiftGround, block_lifts, decide_block_lift, request_block_lift
from kyc.review.decisions import MAX_REASON, OVERTURN, DecisionResult, decide, history
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.review.four_eyes import Verdict, needs_four_eyes
from kyc.review.notifications import (
    AUTHORITY,
    MAX_REFERENCE,
    mark_notification_sent,
    notifications,
    pending_notifications,
)

__all__ = [
    "AUTHORITY",
    "MAX_REASON",
    "MAX_REFERENCE",
    "OVERTURN",
    "DecisionRefused",
    "DecisionResult",
    "LiftGround",
    "ReviewError",
    "Verdict",
    "block_lifts",
    "decide",
    "decide_block_lift",
    "history",
    "mark_notification_sent",
    "needs_four_eyes",
    "notifications",
    "pending_notifications",
    "request_block_lift",
]
