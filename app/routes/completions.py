"""POST /v1/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..observability import current_record
from ..registry import Capability
from ..relay import completions as relay_completions
from ..relay.completions import CompletionRequest
from ..state import Gateway
from . import model_request

router = APIRouter()


@router.post("/v1/completions", summary="Create a text completion (OpenAI-compatible, legacy)")
async def completions(request: Request) -> Response:
    """Relay a text completion to the model's LocalAI, streamed when `stream` is true."""
    gateway: Gateway = request.state.gateway  # not Depends: a hot route
    body, target = await model_request(request, gateway, Capability.CHAT)
    completion = CompletionRequest.parse(body)
    record = current_record(request)
    if completion.stream:
        return await relay_completions.stream_text(gateway, target, completion, record)
    return await relay_completions.complete_text(gateway, target, completion, record)
