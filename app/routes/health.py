"""GET /healthz (the process is alive) and GET /readyz (the registry is loaded)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ..state import Gateway, get_gateway

router = APIRouter()


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """Answer 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness")
async def readyz(gateway: Annotated[Gateway, Depends(get_gateway)]) -> dict[str, Any]:
    """Answer 200 once the registry is loaded, with the number of models."""
    return {"status": "ready", "models": len(gateway.registry)}
