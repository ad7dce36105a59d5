"""The gateway's HTTP routes, one module per resource."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ..access.auth import authorize
from ..errors import InvalidRequest
from ..registry import Capability, ModelTarget
from ..relay.bodies import read_json_object, require_field

if TYPE_CHECKING:
    from ..state import Gateway


def path_parameter(name: str) -> dict[str, Any]:
    """`openapi_extra` documenting the string path parameter `name`, read from `path_params`.

    An endpoint argument would be a pydantic field, and FastAPI imports `pydantic.v1` (~1.5 MB
    of resident memory) to vet the first field it builds; a path segment is a string anyway.
    """
    schema = {"type": "string", "title": name.replace("_", " ").title()}
    return {"parameters": [{"name": name, "in": "path", "required": True, "schema": schema}]}


def target_for(
    request: Request, gateway: Gateway, name: str | None, capability: Capability
) -> ModelTarget:
    """The model `name` names (None: the registry's default for `capability`), once the
    request's key may use it for `capability`.

    404 for an unknown name, 403 for a key without access, 400 for a missing capability or a
    missing name without a default.
    """
    if name is None:
        target = gateway.registry.default_for(capability)
        if target is None:
            raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    else:
        target = gateway.registry.resolve(name)
    authorize(request, target)
    target.require(capability)
    return target


async def model_request(
    request: Request, gateway: Gateway, capability: Capability
) -> tuple[dict[str, Any], ModelTarget]:
    """The JSON body of a model request and the model its `model` field names, or the default
    model when it names none (see target_for)."""
    body = await read_json_object(request, gateway.settings.max_json_containers)
    name = None if body.get("model") is None else require_field(body, "model", str)
    return body, target_for(request, gateway, name, capability)
