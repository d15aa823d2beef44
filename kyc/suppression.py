"""Suppression: a hit officers dismissed is not raised again while nothing it was decided on has changed.

The keys are the party's fingerprint (everything about the party the matcher looks at) and the list entry's content
hash. Both are stamped on every hit when it is made (``kyc.hits.new_hit``); a dismissal stores them as a
:class:`~kyc.storage.hits.Suppression`. A later screening raising the same (customer, source, entry) with the same
keys is ``suppressed``; when either key differs the dismissal no longer applies and is lifted, with the reason.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import crypto
from kyc.storage.hits import Hit, Suppression
from kyc.storage.jobs import Party


def party_fingerprint(party: Party) -> str:
    """A keyed digest of everything about the party the matcher looks at: any change to it reopens dismissals.

    Keyed (``crypto.blind_index``) rather than a plain hash so that the stored value cannot be brute-forced back
    to a name and birth date.
    """
    screened = {
        "schema": party.schema,
        "name": " ".join(party.name.split()).casefold(),
        "birth_date": party.birth_date,
        "nationality": party.nationality,
        "country": party.country,
        "business_id": party.business_id,
        "registration": party.registration,
        "personal_id": party.personal_id_index,
    }
    canonical = json.dumps(screened, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return crypto.blind_index(hashlib.sha256(canonical.encode()).hexdigest())[:64]


def active_suppression(session: Session, customer_id: str, hit: Hit) -> Suppression | None:
    """The dismissal that still covers this hit (same customer, entry and keys), if any."""
    return session.execute(
        select(Suppression)
        .where(
            Suppression.customer_id == customer_id,
            Suppression.source == hit.source,
            Suppression.source_ref == hit.source_ref,
            Suppression.party_fingerprint == hit.party_fingerprint,
            Suppression.entry_hash == hit.entry_hash,
            Suppression.lifted_at.is_(None),
        )
        .limit(1)
    ).scalar_one_or_none()


def suppress(session: Session, customer_id: str, hit: Hit, decision_id: int, moment: datetime) -> Suppression:
    """Record a dismissal's keys, so that the same match on the same data is not raised again."""
    row = Suppression(
        customer_id=customer_id,
        party_fingerprint=hit.party_fingerprint or "",
        source=hit.source,
        source_ref=hit.source_ref,
        entry_hash=hit.entry_hash or "",
        hit_id=hit.id,
        decision_id=decision_id,
        created_at=moment,
    )
    session.add(row)
    return row


def lift_suppressions(session: Session, customer_id: str, hit: Hit, reason: str, now: datetime) -> None:
    """End every dismissal of this (customer, entry): the data it was decided on changed."""
    rows = session.execute(
        select(Suppression).where(
            Suppression.customer_id == customer_id,
            Suppression.source == hit.source,
            Suppression.source_ref == hit.source_ref,
            Suppression.lifted_at.is_(None),
        )
    ).scalars()
    for row in rows:
        row.lifted_at, row.lifted_reason = now, reason
