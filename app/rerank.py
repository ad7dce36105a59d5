"""Rerank (LocalAI's Jina/Cohere-shaped `/v1/rerank`), relayed with the model renamed both ways.

LocalAI answers a bad `top_n` with a 422 whose body is a bare JSON string; the client's error
normalisation turns it into an OpenAI error object like any other.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .registry import ModelTarget
from .relay import rewrite_model, upstream_payload
from .state import Gateway


async def rerank(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Relay a rerank request and its reply."""
    reply = await gateway.client.post(
        target.upstreams[0],
        "/v1/rerank",
        upstream_payload(body, target),
        model=target.id,
        timeouts=target.timeouts,
    )
    content = rewrite_model(reply.content, target.member)
    return Response(content, reply.status, media_type="application/json")
