"""POST /v1/embeddings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from .. import proxy
from ..auth import authorize
from ..observability import current_record
from ..registry import Capability
from ..relay import read_json_object, require_field
from ..state import Gateway, get_gateway

router = APIRouter()


@router.post("/v1/embeddings", summary="Create embeddings (OpenAI-compatible)")
async def embeddings(
    request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> Response:
    """Relay an embeddings request to the model's LocalAI."""
    body = await read_json_object(request)
    target = gateway.registry.resolve(require_field(body, "model", str))
    authorize(request, target)
    target.require(Capability.EMBEDDINGS)
    require_field(body, "input", (str, list))
    return await proxy.embed(gateway, target, body, current_record(request))
