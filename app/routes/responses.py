"""POST /v1/responses, GET /v1/responses/{id}, POST /v1/responses/{id}/cancel (Open Responses)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..errors import InvalidRequest
from ..media.vision import plan_images
from ..observability import current_record
from ..registry import Capability
from ..relay import responses as relay_responses
from ..relay.response_ids import parse_id
from ..relay.responses import ResponsesRequest
from ..state import Gateway, get_gateway
from . import model_request, path_parameter, target_for

router = APIRouter()
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


@router.post("/v1/responses", summary="Create a response (OpenAI Responses-compatible)")
async def create(request: Request) -> Response:
    """Relay a Responses request, streamed (Responses events) when `stream` is true."""
    gateway: Gateway = request.state.gateway  # not Depends: a hot route
    body, target = await model_request(request, gateway, Capability.CHAT)
    response = ResponsesRequest.parse(body, target)
    fetch_images = plan_images(response.images, target, gateway.settings, gateway.image_fetcher)
    record = current_record(request)
    if response.stream:
        return await relay_responses.stream_response(
            gateway, target, response, record, fetch_images
        )
    return await relay_responses.create_response(gateway, target, response, record, fetch_images)


@router.get(
    "/v1/responses/{response_id}",
    summary="Retrieve a stored response",
    openapi_extra=path_parameter("response_id"),
)
async def retrieve(request: Request, gateway: GatewayDep) -> Response:
    """The stored response, from the replica that made it (LocalAI models only)."""
    if request.query_params.get("stream") == "true":
        raise InvalidRequest(
            "Resuming a stream is not supported: poll GET /v1/responses/{id}.", param="stream"
        )
    ref = parse_id(request.path_params["response_id"])
    target = target_for(request, gateway, ref.model, Capability.CHAT)
    return await relay_responses.retrieve_response(gateway, target, ref, current_record(request))


@router.post(
    "/v1/responses/{response_id}/cancel",
    summary="Cancel a background response",
    openapi_extra=path_parameter("response_id"),
)
async def cancel(request: Request, gateway: GatewayDep) -> Response:
    """Cancel a background response on the replica that runs it (LocalAI models only)."""
    ref = parse_id(request.path_params["response_id"])
    target = target_for(request, gateway, ref.model, Capability.CHAT)
    return await relay_responses.cancel_response(gateway, target, ref, current_record(request))
