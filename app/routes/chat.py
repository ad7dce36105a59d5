"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..access.limits import check_chat_body
from ..media.vision import plan_images
from ..observability import current_record
from ..registry import Capability
from ..relay import chat as relay_chat
from ..relay.chat_request import ChatRequest
from ..state import Gateway
from . import model_request

router = APIRouter()


@router.post("/v1/chat/completions", summary="Create a chat completion (OpenAI-compatible)")
async def chat_completions(request: Request) -> Response:
    """Relay a chat completion to the model's LocalAI, streamed when `stream` is true."""
    gateway: Gateway = request.state.gateway  # not Depends: its solving is ~8% of a request
    body, target = await model_request(request, gateway, Capability.CHAT)
    chat = ChatRequest.parse(body, target)
    check_chat_body(body, gateway.settings)
    fetch_images = plan_images(chat.images, target, gateway.settings, gateway.image_fetcher)
    record = current_record(request)
    if chat.stream:
        return await relay_chat.stream_chat(gateway, target, chat, record, fetch_images)
    return await relay_chat.complete_chat(gateway, target, chat, record, fetch_images)
