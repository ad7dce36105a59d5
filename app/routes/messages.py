"""POST /v1/messages and POST /v1/messages/count_tokens (Anthropic's Messages API).

Errors on these routes are Anthropic-shaped (`app.errors.ErrorResponse` chooses by path);
Anthropic's clients send their key as `x-api-key`, which auth accepts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..media.vision import plan_images
from ..observability import current_record
from ..registry import Capability
from ..relay import messages as relay_messages
from ..relay.bodies import require_field
from ..relay.messages import MessagesRequest
from ..relay.tokens import count_tokens
from ..state import Gateway, get_gateway
from . import model_request

router = APIRouter()


@router.post("/v1/messages", summary="Create a message (Anthropic-compatible)")
async def messages(request: Request) -> Response:
    """Relay a Messages request, streamed (Anthropic's events) when `stream` is true."""
    gateway: Gateway = request.state.gateway  # not Depends: a hot route
    body, target = await model_request(request, gateway, Capability.CHAT)
    message = MessagesRequest.parse(body, target)
    fetch_images = plan_images(message.images, target, gateway.settings, gateway.image_fetcher)
    record = current_record(request)
    if message.stream:
        return await relay_messages.stream_message(gateway, target, message, record, fetch_images)
    return await relay_messages.create_message(gateway, target, message, record, fetch_images)


@router.post("/v1/messages/count_tokens", summary="Count the tokens of a message (Anthropic)")
async def messages_count_tokens(
    request: Request, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> Response:
    """Count the input tokens of a Messages body with the model's tokenizer."""
    body, target = await model_request(request, gateway, Capability.CHAT)
    require_field(body, "messages", list)
    return await count_tokens(gateway, target, body, current_record(request))
