"""GET /healthz (the process is alive) and GET /readyz (ready to route: upstreams and drain)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..observability import current_record
from ..state import Gateway, get_gateway

router = APIRouter()


@router.get("/healthz", summary="Liveness")
async def healthz() -> Response:
    """Answer 200 while the process serves requests."""
    return Response(b'{"status":"ok"}', media_type="application/json")


def readiness(gateway: Gateway, details: bool) -> tuple[int, dict[str, Any]]:
    """The readiness verdict: draining or a model without a usable replica makes it 503.

    With `details`, the body also names the models without a usable replica and each
    upstream's health and breakers (by the names the registry gives, never a URL).
    """
    dispatcher = gateway.dispatcher
    down = dispatcher.down_models()
    if gateway.lifecycle.draining:
        status = "draining"
    elif down and gateway.settings.ready_requires_upstreams:
        status = "degraded"
    else:
        status = "ready"
    body: dict[str, Any] = {"status": status}
    if details:
        body |= {
            "models": len(gateway.registry),
            "models_without_upstream": down,
            "upstreams": dispatcher.replica_states(),
        }
    return (200 if status == "ready" else 503), body


@router.get("/readyz", summary="Readiness")
async def readyz(request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]) -> Response:
    """200 when every model has a usable replica (configurable) and the process is not draining;
    details only for a caller with a valid API key (or when the gateway runs without keys)."""
    details = current_record(request).key is not None or not request.app.state.auth_required
    status, body = readiness(gateway, details)
    return Response(orjson.dumps(body), status, media_type="application/json")
