"""POST /v1/embeddings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..observability import current_record
from ..registry import Capability
from ..relay import embeddings as relay_embeddings
from ..relay.bodies import require_field
from ..state import Gateway
from . import model_request

router = APIRouter()


@router.post("/v1/embeddings", summary="Create embeddings (OpenAI-compatible)")
async def embeddings(request: Request) -> Response:
    """Relay an embeddings request to the model's LocalAI."""
    gateway: Gateway = request.state.gateway  # not Depends: its solving is ~8% of a request
    body, target = await model_request(request, gateway, Capability.EMBEDDINGS)
    require_field(body, "input", (str, list))
    return await relay_embeddings.embed(gateway, target, body, current_record(request))
