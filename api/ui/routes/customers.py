"""A customer: parties and roles, jobs and outcomes, PEP basis, hits, block and lift requests, authority
notifications, risk and rescreen schedule, end of relationship. Identity codes masked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.ui.security import page
from api.ui.templating import render
from kyc import audit, customers, review
from kyc.access import Permission
from kyc.logins import SessionInfo
from kyc.review import queue

router = APIRouter(prefix="/ui/customers", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_HITS))]


@router.get("/{customer_id}")
def customer_page(
    request: Request, customer_id: str, session: SessionDep, settings: SettingsDep, info: Reader
) -> Response:
    found = customers.view(session, customer_id[:36])
    customer = found.customer
    jobs = sorted(customer.jobs, key=lambda j: j.created_at, reverse=True)
    current = next((j for j in jobs if j.id == found.current_job_id), None)
    hits, _total = queue.hit_queue(session, queue.QueueFilter(customer_id=customer.id), limit=200, offset=0)
    lifts = review.block_lifts(session, customer.id)
    audit.record(session, actor=info.principal, action="customer.read", object_type="customer", object_id=customer.id)
    return render(
        request,
        "customer.html",
        settings,
        info,
        customer=customer,
        jobs=jobs,
        parties=list(current.parties) if current is not None else [],
        hits=hits,
        lifts=lifts,
        notifications=found.notifications,
    )
