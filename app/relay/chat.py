"""Chat completions: a whole answer shaped and checked, or a stream opened and relayed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.responses import Response

from ..errors import OutputValidationFailed
from ..observability.record import RequestRecord
from ..pipeline import build_chain, check_output, split_reasoning_message
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.dispatch import Prepare
from ..upstream.open_stream import OpenStream
from .bodies import upstream_json
from .chat_request import ChatRequest
from .replies import relay_json, reply_headers
from .sse import SSEResponse
from .stream import keepalive_then, relay_stream
from .structured import check_answer
from .usage import record_reply_usage


def _visible_text(response: dict[str, Any]) -> str:
    """The text a client sees in a chat completion: every choice's content and reasoning."""
    parts: list[str] = []
    for choice in response.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            for field in ("content", "reasoning_content", "reasoning"):
                if isinstance(message.get(field), str):
                    parts.append(message[field])
    return "\n".join(parts)


def _shape_completion(content: bytes, target: ModelTarget, request: ChatRequest) -> bytes:
    """Apply the reasoning split, output validators and schema check to a complete answer."""
    response = upstream_json(content, target.id, "an answer")
    response = split_reasoning_message(response, target.stream, request.options)
    violation = check_output(_visible_text(response), target.stream)
    if violation is not None:
        raise OutputValidationFailed(f"The answer of model {target.id!r} failed: {violation}.")
    if request.contract is not None:
        check_answer(response, request.contract, target.id)
    response["model"] = target.id
    return orjson.dumps(response)


async def complete_chat(
    gateway: Gateway,
    target: ModelTarget,
    request: ChatRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Relay a non-streaming chat completion, with the model renamed back to the internal id."""
    served = await gateway.dispatcher.send(
        target, endpoints.CHAT, request.payload(), record=record, prepare=prepare
    )
    model = served.target
    record_reply_usage(record, served.reply.content)
    if model.stream is None and request.contract is None:
        return relay_json(served, target)
    return relay_json(served, target, _shape_completion(served.reply.content, model, request))


async def stream_chat(
    gateway: Gateway,
    target: ModelTarget,
    request: ChatRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Open the upstream stream and read its first event before committing to a 200.

    A failure before the first event still becomes a proper error status (after retries).
    When the first event is slow, the response starts with `: keep-alive` comments instead,
    and a later failure is reported in-stream.
    """
    opening = gateway.dispatcher.start_stream(
        target, endpoints.CHAT, request.payload(), record=record, prepare=prepare
    )

    def relay(stream: OpenStream) -> AsyncGenerator[bytes]:
        chain = build_chain(stream.target.stream, request.options)
        include_usage = request.options.include_usage
        return relay_stream(stream, chain, include_usage=include_usage, record=record)

    interval = gateway.settings.keepalive_interval or None
    if not await opening.wait(interval):
        assert interval is not None
        return SSEResponse(keepalive_then(opening, interval, relay))
    stream = opening.task.result()
    headers = reply_headers(stream.target, target, stream.backend, stream.correlation_id)
    return SSEResponse(relay(stream), headers)
