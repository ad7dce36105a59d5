"""POST /v1/rerank."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..observability import current_record
from ..registry import Capability
from ..relay.bodies import require_field
from ..relay.rerank import rerank as relay_rerank
from ..state import Gateway, get_gateway
from . import model_request

router = APIRouter()


@router.post("/v1/rerank", summary="Rerank documents for a query (Jina/Cohere shape)")
async def rerank(request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]) -> Response:
    """Relay a rerank request to the model's LocalAI."""
    body, target = await model_request(request, gateway, Capability.RERANK)
    require_field(body, "query", str)
    require_field(body, "documents", list)
    return await relay_rerank(gateway, target, body, current_record(request))
