"""GET /healthz (the process is alive) and GET /readyz (ready to route: upstreams and drain)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from starlette.responses import Response

from ..state import Gateway, get_gateway

router = APIRouter()


@router.get("/healthz", summary="Liveness")
async def healthz() -> Response:
    """Answer 200 while the process serves requests."""
    return Response(b'{"status":"ok"}', media_type="application/json")


def readiness(gateway: Gateway) -> tuple[int, dict[str, Any]]:
    """The readiness verdict: draining or a model without a usable replica makes it 503."""
    dispatcher = gateway.dispatcher
    down = dispatcher.down_models()
    upstreams = {
        url: {
            "healthy": upstream.healthy,
            "breaker": dispatcher.breakers[url].state.name.lower(),
        }
        for url, upstream in dispatcher.upstreams.items()
    }
    if gateway.lifecycle.draining:
        status = "draining"
    elif down and gateway.settings.ready_requires_upstreams:
        status = "degraded"
    else:
        status = "ready"
    body = {
        "status": status,
        "models": len(gateway.registry),
        "models_without_upstream": down,
        "upstreams": upstreams,
    }
    return (200 if status == "ready" else 503), body


@router.get("/readyz", summary="Readiness")
async def readyz(gateway: Annotated[Gateway, Depends(get_gateway)]) -> Response:
    """200 when every model has a usable replica (configurable) and the process is not draining."""
    status, body = readiness(gateway)
    return Response(orjson.dumps(body), status, media_type="application/json")
