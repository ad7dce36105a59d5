"""Rerank (LocalAI's Jina/Cohere-shaped `/v1/rerank`), relayed with the model renamed both ways.

LocalAI answers a bad `top_n` with a 422 whose body is a bare JSON string; the client's error
normalisation turns it into an OpenAI error object like any other.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .proxy import payloads
from .registry import Capability, ModelTarget
from .relay import rewrite_model, upstream_payload
from .state import Gateway


async def rerank(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Relay a rerank request and its reply (replicas, retries and breakers as for chat)."""
    served = await gateway.dispatcher.post(
        target, Capability.RERANK, "/v1/rerank", payloads(body, upstream_payload)
    )
    content = rewrite_model(served.reply.content, served.target.member)
    return Response(content, served.reply.status, media_type="application/json")
