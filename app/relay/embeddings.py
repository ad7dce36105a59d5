"""Embeddings: relayed with the model renamed and the `usage` LocalAI leaves out added."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.payloads import JsonPayload
from .bodies import add_usage, rewrite_model
from .replies import relay_json
from .usage import record_reply_usage


async def embed(
    gateway: Gateway, target: ModelTarget, body: dict[str, Any], record: RequestRecord | None
) -> Response:
    """Relay an embeddings request, adding the `usage` LocalAI leaves out."""
    served = await gateway.dispatcher.send(
        target, endpoints.EMBEDDINGS, JsonPayload(body), record=record
    )
    content = add_usage(rewrite_model(served.reply.content, served.target.member), body)
    record_reply_usage(record, content)
    return relay_json(served, target, content)
