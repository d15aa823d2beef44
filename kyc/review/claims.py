"""Who works which hit: an officer claims hits for review (one officer each), and who proposed what awaits a
second officer. The queue filters on both ("my hits", "unassigned", "awaiting my approval")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kyc import audit
from kyc.access import Permission, Principal
from kyc.errors import Conflict, Refused
from kyc.hits import PENDING
from kyc.review.queue import get_hit
from kyc.storage.access import User
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit, HitDecision
from kyc.storage.logins import HitClaim


class ClaimedByAnother(Conflict):
    code = "claimed_by_another"


def claim(session: Session, hit_ids: Sequence[str], principal: Principal, *, take_over: bool = False) -> int:
    """Claim pending hits for the principal; a hit another officer holds is refused unless ``take_over``."""
    if not (principal.can(Permission.PROPOSE_DECISION) or principal.can(Permission.APPROVE_DECISION)):
        raise Refused(f"role {principal.role.value} does not decide on hits")
    claimed = 0
    for hit_id in hit_ids:
        hit = get_hit(session, hit_id)
        if hit.status not in PENDING:
            continue
        current = session.get(HitClaim, hit.id)
        if current is not None and current.user_id == principal.user_id:
            continue
        if current is not None and not take_over:
            raise ClaimedByAnother(f"hit {hit.id} is claimed by another officer")
        if current is not None:
            session.delete(current)
            session.flush()
        session.add(HitClaim(hit_id=hit.id, user_id=principal.user_id, claimed_at=utcnow()))
        audit.record(session, actor=principal, action="hit.claim", object_type="screening_hit", object_id=hit.id)
        claimed += 1
    return claimed


def release(session: Session, hit_id: str, principal: Principal) -> None:
    session.execute(delete(HitClaim).where(HitClaim.hit_id == hit_id, HitClaim.user_id == principal.user_id))
    audit.record(session, actor=principal, action="hit.release", object_type="screening_hit", object_id=hit_id)


def assignees(session: Session, hit_ids: Iterable[str]) -> dict[str, str]:
    """hit id -> the claiming officer's name."""
    ids = list(hit_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(HitClaim.hit_id, User.name).join(User, User.id == HitClaim.user_id).where(HitClaim.hit_id.in_(ids))
    )
    return {hit_id: name for hit_id, name in rows}


def proposers(session: Session, hit_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """hit id -> (user id, name) of the latest proposal on each proposed hit."""
    ids = list(hit_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(HitDecision.id))
        .join(Hit, Hit.id == HitDecision.hit_id)
        .where(HitDecision.hit_id.in_(ids), Hit.status == "proposed", HitDecision.status_after == "proposed")
        .group_by(HitDecision.hit_id)
    )
    rows = session.execute(
        select(HitDecision.hit_id, HitDecision.user_id, HitDecision.user_name).where(HitDecision.id.in_(latest))
    )
    return {hit_id: (user_id, name) for hit_id, user_id, name in rows}
