"""Chat completions: a whole answer shaped and checked, or a stream opened and relayed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.responses import Response

from clients import upstream_json

from ..errors import OutputValidationFailed
from ..observability.record import RequestRecord
from ..pipeline import build_chain, check_output, split_reasoning_message
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.dispatch import Prepare
from ..upstream.open_stream import OpenStream
from .chat_request import ChatRequest
from .replies import relay_json, send_counted
from .stream import relay_stream, stream_reply
from .structured import check_answer, schema_checked


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
    payload = request.payload()
    served = await send_counted(
        gateway, target, endpoints.CHAT, payload, record=record, prepare=prepare
    )
    model = served.target
    if model.stream is None and request.contract is None:
        return relay_json(served, target)
    # Off the event loop: checking a large answer against a schema can take a while.
    shaped = await asyncio.to_thread(_shape_completion, served.reply.content, model, request)
    return relay_json(served, target, shaped)


async def stream_chat(
    gateway: Gateway,
    target: ModelTarget,
    request: ChatRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Relay the upstream stream once its first event arrived (see `stream_reply`)."""

    def relay(stream: OpenStream) -> AsyncGenerator[bytes]:
        chain = build_chain(stream.target.stream, request.options)
        if request.contract is not None:
            chain = schema_checked(chain, request.contract, stream.target.id)
        include_usage = request.options.include_usage
        return relay_stream(stream, chain, include_usage=include_usage, record=record)

    payload = request.payload()
    return await stream_reply(
        gateway, target, endpoints.CHAT, payload, relay, record=record, prepare=prepare
    )
