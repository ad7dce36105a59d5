"""Rerank (LocalAI's Jina/Cohere-shaped `/v1/rerank`), relayed with the model renamed both ways.

LocalAI answers a bad `top_n` with a 422 whose body is a bare JSON string; the client's error
normalisation turns it into an OpenAI error object like any other.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.payloads import JsonPayload
from .replies import relay_json


async def rerank(
    gateway: Gateway, target: ModelTarget, body: dict[str, Any], record: RequestRecord | None = None
) -> Response:
    """Relay a rerank request and its reply (replicas, retries and breakers as for chat)."""
    served = await gateway.dispatcher.send(
        target, endpoints.RERANK, JsonPayload(body), record=record
    )
    return relay_json(served, target)
