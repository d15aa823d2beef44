"""The one outcome rule as pure functions: every hit status, PEPs and the block."""

from __future__ import annotations

import pytest

from kyc.hits import HitStatus
from kyc.outcome import Outcome, customer_outcome, job_outcome


def test_outcome_of_decided_and_pending_hits() -> None:
    assert job_outcome([HitStatus.DISMISSED, HitStatus.SUPPRESSED, HitStatus.DELISTED], False) == "clear"
    assert job_outcome([HitStatus.DISMISSED], True) == "review"
    assert job_outcome([HitStatus.ESCALATED, HitStatus.CONFIRMED], False) == "match"
    assert job_outcome([], False) is Outcome.CLEAR


@pytest.mark.parametrize("pending", [HitStatus.OPEN, HitStatus.PROPOSED, HitStatus.ESCALATED])
def test_any_pending_hit_keeps_review(pending: HitStatus) -> None:
    assert job_outcome([HitStatus.DISMISSED, pending], False) is Outcome.REVIEW


def test_confirmation_wins_and_only_a_confirmation_matches() -> None:
    for status in HitStatus:
        expected = Outcome.MATCH if status is HitStatus.CONFIRMED else None
        if expected:
            assert job_outcome([status, HitStatus.OPEN], True) is expected
        else:
            assert job_outcome([status], False) is not Outcome.MATCH


def test_a_block_holds_the_customer_at_match() -> None:
    assert customer_outcome(Outcome.CLEAR, blocked=True) is Outcome.MATCH
    assert customer_outcome("review", blocked=False) is Outcome.REVIEW
    assert customer_outcome(Outcome.CLEAR, blocked=False) is Outcome.CLEAR
