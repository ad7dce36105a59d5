"""GET /v1/models and /v1/models/{model_id}: the registry's internal ids in OpenAI's shape."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..access.auth import can_use, require_visible
from ..registry import ModelTarget
from ..state import Gateway, get_gateway
from . import path_parameter

router = APIRouter()

OWNER = "localai-gateway"


def model_object(target: ModelTarget) -> dict[str, Any]:
    """Return the OpenAI `model` object for a registry entry."""
    return {"id": target.id, "object": "model", "created": target.created, "owned_by": OWNER}


@router.get("/v1/models", summary="List models")
async def list_models(
    request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> Response:
    """List the internal model ids of the registry that the request's key may use."""
    visible = [model_object(target) for target in gateway.registry if can_use(request, target)]
    return json_response({"object": "list", "data": visible})


@router.get(
    "/v1/models/{model_id:path}",
    summary="Retrieve a model",
    openapi_extra=path_parameter("model_id"),
)
async def get_model(
    request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> Response:
    """Describe one model by internal id or alias (404 if the key may not use it)."""
    model_id = request.path_params["model_id"]
    target = gateway.registry.resolve(model_id)
    require_visible(request, target, model_id)
    return json_response(model_object(target))


def json_response(content: dict[str, Any]) -> Response:
    """A 200 JSON response of `content`."""
    return Response(orjson.dumps(content), media_type="application/json")
