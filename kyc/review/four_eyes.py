"""The four-eyes rules, as pure functions: which verdicts need a second officer, and what a second decision means.

* Confirming a true match always needs a second officer; so does dismissing a sanctions-list hit, or any hit scoring
  at or above the configured high score. An escalation never does.
* The second officer is a different person with the approver's permission. DESIGN.md's contract has three verdicts:
  an approver who answers a pending proposal with one of them gives the second decision — the proposal's own
  verdict approves it, any other verdict rejects it.
"""

from __future__ import annotations

from enum import StrEnum

from kyc.hits import HitKind, HitStatus


class Verdict(StrEnum):
    FALSE_POSITIVE = "false_positive"
    TRUE_MATCH = "true_match"
    ESCALATE = "escalate"
    APPROVE = "approve"
    REJECT = "reject"


PROPOSALS = frozenset({Verdict.FALSE_POSITIVE, Verdict.TRUE_MATCH, Verdict.ESCALATE})
"""First decisions; ``approve`` and ``reject`` answer a proposal."""
DECIDABLE = frozenset({HitStatus.OPEN, HitStatus.ESCALATED})
"""Statuses that take a first decision."""


def needs_four_eyes(kind: str, score: float, verdict: Verdict, high_score: float) -> bool:
    if verdict is Verdict.TRUE_MATCH:
        return True
    if verdict is Verdict.FALSE_POSITIVE:
        return kind == HitKind.SANCTION or score >= high_score
    return False


def first_decision(kind: str, score: float, verdict: Verdict, high_score: float) -> tuple[HitStatus, bool]:
    """``(status after, needs a second officer)`` for a first decision on an open or escalated hit."""
    if verdict is Verdict.ESCALATE:
        return HitStatus.ESCALATED, False
    if needs_four_eyes(kind, score, verdict, high_score):
        return HitStatus.PROPOSED, True
    return HitStatus.DISMISSED, False


def second_decision(proposed: str, verdict: Verdict) -> HitStatus:
    """The status a second decision leads to: a rejection reopens, an approval makes the proposal final."""
    if verdict is Verdict.REJECT:
        return HitStatus.OPEN
    return HitStatus.CONFIRMED if proposed == Verdict.TRUE_MATCH else HitStatus.DISMISSED


def as_second_decision(verdict: Verdict, proposal: str | None, *, can_propose: bool, can_approve: bool) -> Verdict:
    """An approver's plain verdict on a proposed hit is a second decision: the same verdict approves the proposal,
    another one rejects it. Anybody who may propose (an analyst) keeps the verdict as given."""
    if verdict not in PROPOSALS or proposal is None or can_propose or not can_approve:
        return verdict
    return Verdict.APPROVE if proposal == verdict.value else Verdict.REJECT
