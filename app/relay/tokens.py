"""Anthropic's `count_tokens`, answered with the model's tokenizer (LocalAI has no such route).

`count_tokens` counts the text of the system prompt, the turns and the tools (as JSON) with
the model's own tokenizer; the tokens the chat template adds around them are not counted.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from clients import UpstreamProtocolError, upstream_json

from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..state import Gateway
from ..translate.messages import text_of
from ..upstream import endpoints
from ..upstream.payloads import JsonPayload, with_model_name
from .replies import JSON, reply_headers
from .usage import record_usage


async def count_tokens(
    gateway: Gateway, target: ModelTarget, body: dict[str, Any], record: RequestRecord | None
) -> Response:
    """Anthropic's `{"input_tokens": N}` for a Messages body, from the model's tokenizer."""
    payload = JsonPayload({"content": text_of(body)}, with_model_name)
    served = await gateway.dispatcher.send(target, endpoints.TOKENIZE, payload, record=record)
    reply = upstream_json(served.reply.content, target.id, "a tokenize answer")
    tokens = reply.get("tokens") if isinstance(reply, dict) else None
    if not isinstance(tokens, list):
        message = f"model {target.id!r}: the upstream's tokenize answer has no tokens"
        raise UpstreamProtocolError(message, model=target.id)
    record_usage(record, {"prompt_tokens": len(tokens)})
    headers = reply_headers(served.target, target, served.backend, served.reply.correlation_id)
    content = orjson.dumps({"input_tokens": len(tokens)})
    return Response(content, headers=headers, media_type=JSON)
