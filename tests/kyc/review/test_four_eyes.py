"""The four-eyes rules as pure functions: no database, every verdict against every kind of hit."""

from __future__ import annotations

import pytest

from kyc.hits import HitKind, HitStatus
from kyc.review.four_eyes import Verdict, as_second_decision, first_decision, needs_four_eyes, second_decision


def test_four_eyes_rule_by_list_and_score() -> None:
    assert not needs_four_eyes(HitKind.PEP, 0.80, Verdict.FALSE_POSITIVE, 0.9)
    assert needs_four_eyes(HitKind.PEP, 0.93, Verdict.FALSE_POSITIVE, 0.9)
    assert needs_four_eyes(HitKind.PEP, 0.90, Verdict.FALSE_POSITIVE, 0.9)  # at the high score counts
    assert needs_four_eyes(HitKind.SANCTION, 0.75, Verdict.FALSE_POSITIVE, 0.9)
    assert needs_four_eyes(HitKind.PEP, 0.80, Verdict.TRUE_MATCH, 0.9)
    assert not needs_four_eyes(HitKind.SANCTION, 0.99, Verdict.ESCALATE, 0.9)


@pytest.mark.parametrize(
    ("kind", "score", "verdict", "expected"),
    [
        (HitKind.SANCTION, 0.80, Verdict.FALSE_POSITIVE, (HitStatus.PROPOSED, True)),
        (HitKind.PEP, 0.80, Verdict.FALSE_POSITIVE, (HitStatus.DISMISSED, False)),
        (HitKind.OTHER, 0.95, Verdict.FALSE_POSITIVE, (HitStatus.PROPOSED, True)),
        (HitKind.PEP, 0.80, Verdict.TRUE_MATCH, (HitStatus.PROPOSED, True)),
        (HitKind.SANCTION, 0.99, Verdict.ESCALATE, (HitStatus.ESCALATED, False)),
    ],
)
def test_first_decision(kind: HitKind, score: float, verdict: Verdict, expected: tuple[HitStatus, bool]) -> None:
    assert first_decision(kind, score, verdict, 0.9) == expected


def test_second_decision_approves_or_reopens() -> None:
    assert second_decision(Verdict.TRUE_MATCH.value, Verdict.APPROVE) is HitStatus.CONFIRMED
    assert second_decision(Verdict.FALSE_POSITIVE.value, Verdict.APPROVE) is HitStatus.DISMISSED
    assert second_decision(Verdict.TRUE_MATCH.value, Verdict.REJECT) is HitStatus.OPEN
    assert second_decision(Verdict.FALSE_POSITIVE.value, Verdict.REJECT) is HitStatus.OPEN


def test_an_approvers_plain_verdict_answers_the_proposal() -> None:
    approver = {"can_propose": False, "can_approve": True}
    assert as_second_decision(Verdict.TRUE_MATCH, "true_match", **approver) is Verdict.APPROVE
    assert as_second_decision(Verdict.FALSE_POSITIVE, "true_match", **approver) is Verdict.REJECT
    assert as_second_decision(Verdict.ESCALATE, "false_positive", **approver) is Verdict.REJECT
    assert as_second_decision(Verdict.APPROVE, "true_match", **approver) is Verdict.APPROVE
    assert as_second_decision(Verdict.TRUE_MATCH, None, **approver) is Verdict.TRUE_MATCH  # nothing to answer
    analyst = {"can_propose": True, "can_approve": False}
    assert as_second_decision(Verdict.TRUE_MATCH, "true_match", **analyst) is Verdict.TRUE_MATCH
    auditor = {"can_propose": False, "can_approve": False}
    assert as_second_decision(Verdict.TRUE_MATCH, "true_match", **auditor) is Verdict.TRUE_MATCH
