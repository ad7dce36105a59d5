"""POST /v1/rerank: LocalAI's Jina/Cohere-shaped rerank, relayed with the model renamed both ways.

LocalAI answers a bad `top_n` with a 422 whose body is a bare JSON string; the client's error
normalisation turns it into an OpenAI error object like any other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..observability import current_record
from ..registry import Capability
from ..relay.bodies import require_field
from ..relay.replies import relay_body
from ..state import Gateway, get_gateway
from ..upstream import endpoints
from . import model_request

router = APIRouter()


@router.post("/v1/rerank", summary="Rerank documents for a query (Jina/Cohere shape)")
async def rerank(request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]) -> Response:
    """Relay a rerank request to the model's LocalAI (replicas, retries and breakers as for
    chat)."""
    body, target = await model_request(request, gateway, Capability.RERANK)
    require_field(body, "query", str)
    require_field(body, "documents", list)
    return await relay_body(gateway, target, endpoints.RERANK, body, current_record(request))
