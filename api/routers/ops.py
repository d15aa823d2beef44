"""``/readyz`` (open, like ``/healthz``: it tells up or down, nothing else) and ``/metrics`` (a scraper's own token).

``/metrics`` takes ``Authorization: Bearer <KYC_METRICS_TOKEN>``, a token of its own rather than a user's: the
figures are operational, but a user token in a scraper's configuration would open personal data to whoever reads
that configuration. Without ``KYC_METRICS_TOKEN`` the endpoint refuses every caller.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import SettingsDep
from api.errors import forbidden, unauthorized
from api.metrics import MetricsExporter
from api.readiness import IndexWarmup, check
from api.schemas import Readiness

router = APIRouter(tags=["health"])

READY_RETRY_AFTER = 5


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "headers": {"Retry-After": {"description": "Seconds before asking again.", "schema": {"type": "integer"}}},
        }
    },
)
def readyz(request: Request, settings: SettingsDep) -> Response:
    """Open: ready when the database and the broker answer and this process's matcher index is built."""
    state = request.app.state
    warmup: IndexWarmup = state.index_warmup
    found = check(settings, getattr(state, "broker", None), warmup)
    body = Readiness(
        status="ok" if found.ready else "unavailable", database=found.database, broker=found.broker, index=found.index
    )
    if found.ready:
        return JSONResponse(body.model_dump())
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": str(READY_RETRY_AFTER)})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}},
)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus metrics; ``Authorization: Bearer <KYC_METRICS_TOKEN>``."""
    scheme, _, token = (request.headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("the metrics token is required (Authorization: Bearer <KYC_METRICS_TOKEN>)")
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not expected or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise forbidden("only the metrics token (KYC_METRICS_TOKEN) may read metrics")
    exporter: MetricsExporter = request.app.state.metrics
    return Response(exporter.render(settings), media_type=CONTENT_TYPE_LATEST)
