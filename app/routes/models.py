"""GET /v1/models and /v1/models/{model_id}: the registry's internal ids in OpenAI's shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ..auth import can_use, require_visible
from ..registry import ModelTarget
from ..state import Gateway, get_gateway

router = APIRouter()

OWNER = "localai-gateway"


def model_object(target: ModelTarget) -> dict[str, Any]:
    """Return the OpenAI `model` object for a registry entry."""
    return {"id": target.id, "object": "model", "created": target.created, "owned_by": OWNER}


@router.get("/v1/models", summary="List models")
async def list_models(
    request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> dict[str, Any]:
    """List the internal model ids of the registry that the request's key may use."""
    visible = [model_object(target) for target in gateway.registry if can_use(request, target)]
    return {"object": "list", "data": visible}


@router.get("/v1/models/{model_id:path}", summary="Retrieve a model")
async def get_model(
    model_id: str, request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> dict[str, Any]:
    """Describe one model by internal id or alias (404 if the key may not use it)."""
    target = gateway.registry.resolve(model_id)
    require_visible(request, target, model_id)
    return model_object(target)
