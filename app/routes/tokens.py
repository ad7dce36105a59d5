"""POST /v1/tokenize and POST /v1/detokenize (LocalAI's shapes)."""

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
from ..upstream.payloads import with_model_name
from . import model_request

router = APIRouter()
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


@router.post("/v1/tokenize", summary="Tokenize text with a model's tokenizer (LocalAI)")
async def tokenize(request: Request, gateway: GatewayDep) -> Response:
    """`{"model", "content"}` -> `{"tokens": [...]}`."""
    body, target = await model_request(request, gateway, Capability.CHAT)
    require_field(body, "content", str)
    record = current_record(request)
    return await relay_body(gateway, target, endpoints.TOKENIZE, body, record, with_model_name)


@router.post("/v1/detokenize", summary="Turn tokens back into text (LocalAI)")
async def detokenize(request: Request, gateway: GatewayDep) -> Response:
    """`{"model", "tokens"}` -> `{"content"}`."""
    body, target = await model_request(request, gateway, Capability.CHAT)
    require_field(body, "tokens", list)
    record = current_record(request)
    return await relay_body(gateway, target, endpoints.DETOKENIZE, body, record, with_model_name)
