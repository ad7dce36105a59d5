"""Forwarding one request to its model's replicas and shaping the reply for the client."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from starlette.responses import Response

from .dispatch import Commitment, OpenStream
from .errors import OutputValidationFailed
from .observability.record import RequestRecord
from .pipeline import (
    apply_system_template,
    build_chain,
    check_output,
    client_wants_usage,
    split_reasoning_message,
)
from .registry import Capability, ModelTarget
from .relay import add_usage, rewrite_model, upstream_json, upstream_payload
from .state import Gateway
from .streaming import SSEResponse, keepalive_then, relay_stream
from .structured import AnswerContract, answer_contract, check_answer, constrain, grammar_for

JSON = "application/json"
_USAGE_MEMBER = re.compile(rb'"(prompt|completion)_tokens"\s*:\s*(\d+)')
CHAT_PATH = "/v1/chat/completions"


def _headers(
    served: ModelTarget, asked: ModelTarget, backend: str, correlation_id: str | None
) -> dict[str, str]:
    """Response headers saying which backend (and, after a fallback, which model) answered."""
    headers = {"x-gateway-backend": backend}
    if correlation_id:
        headers["x-correlation-id"] = correlation_id
    if served is not asked:
        headers["x-gateway-fallback"] = served.id
    return headers


def payloads(
    body: dict[str, Any], build: Callable[..., bytes], **options: Any
) -> Callable[..., bytes]:
    """One upstream body per model that may serve the request (the asked one or a fallback)."""
    made: dict[str, bytes] = {}

    def payload(target: ModelTarget) -> bytes:
        if target.id not in made:
            made[target.id] = build(dict(body), target, **options)
        return made[target.id]

    return payload


def chat_payload(
    body: dict[str, Any], target: ModelTarget, *, stream: bool, contract: AnswerContract | None
) -> bytes:
    """The upstream body: system template and grammar applied, gateway-only fields removed,
    usage asked for streams."""
    body = apply_system_template(body, target.stream, body.get("metadata"))
    body.pop("include_reasoning", None)
    constrain(body, contract, target)
    if stream:
        options = body.get("stream_options")
        body["stream_options"] = {**(options or {}), "include_usage": True}
    return upstream_payload(body, target)


def note_usage(record: RequestRecord | None, content: bytes) -> None:
    """Copy a reply's token counts into the request record (a scan, not a parse)."""
    if record is None:
        return
    for name, value in _USAGE_MEMBER.findall(content):
        if name == b"prompt":
            record.tokens_in = int(value)
        else:
            record.tokens_out = int(value)


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


def _shape_completion(
    content: bytes,
    target: ModelTarget,
    request: dict[str, Any],
    contract: AnswerContract | None,
) -> bytes:
    """Apply the reasoning split, output validators and schema check to a complete answer."""
    response = upstream_json(content, target.id, "an answer")
    response = split_reasoning_message(response, target.stream, request)
    violation = check_output(_visible_text(response), target.stream)
    if violation is not None:
        raise OutputValidationFailed(f"The answer of model {target.id!r} failed: {violation}.")
    if contract is not None:
        check_answer(response, contract, target.id)
    response["model"] = target.id
    return orjson.dumps(response)


def _early(contract: AnswerContract | None, target: ModelTarget) -> AnswerContract | None:
    """Compile the grammar before dispatching, so an unsupported schema is a 400 at once."""
    if contract is not None and Capability.GRAMMAR in target.capabilities:
        grammar_for(contract)
    return contract


async def complete_chat(
    gateway: Gateway, target: ModelTarget, body: dict[str, Any], record: RequestRecord | None = None
) -> Response:
    """Relay a non-streaming chat completion, with the model renamed back to the internal id."""
    contract = answer_contract(body)
    served = await gateway.dispatcher.post(
        target,
        Capability.CHAT,
        CHAT_PATH,
        payloads(body, chat_payload, stream=False, contract=_early(contract, target)),
        record,
    )
    model, reply = served.target, served.reply
    note_usage(record, reply.content)
    if model.stream is None and contract is None:
        content = rewrite_model(reply.content, model.member)
    else:
        content = _shape_completion(reply.content, model, body, contract)
    headers = _headers(model, target, served.backend, reply.correlation_id)
    return Response(content, reply.status, headers=headers, media_type=JSON)


async def stream_chat(
    gateway: Gateway, target: ModelTarget, body: dict[str, Any], record: RequestRecord | None = None
) -> Response:
    """Open the upstream stream and read its first event before committing to a 200.

    A failure before the first event still becomes a proper error status (after retries).
    When the first event is slow, the response starts with `: keep-alive` comments instead,
    and a later failure is reported in-stream.
    """
    include_usage = client_wants_usage(body)
    contract = _early(answer_contract(body), target)
    commitment = Commitment()
    opening = asyncio.ensure_future(
        gateway.dispatcher.open_stream(
            target,
            Capability.CHAT,
            CHAT_PATH,
            payloads(body, chat_payload, stream=True, contract=contract),
            commitment,
            record,
        )
    )

    def relay(stream: OpenStream) -> AsyncGenerator[bytes]:
        chain = build_chain(stream.target.stream, body)
        return relay_stream(stream, chain, include_usage=include_usage, record=record)

    interval = gateway.settings.keepalive_interval or None
    try:
        await asyncio.wait({opening}, timeout=interval)
    except BaseException:
        await discard(opening)
        raise
    if not opening.done():
        commitment.committed = True
        assert interval is not None
        return SSEResponse(keepalive_then(opening, interval, relay, discard))
    stream = opening.result()
    headers = _headers(stream.target, target, stream.backend, stream.correlation_id)
    return SSEResponse(relay(stream), headers)


async def discard(opening: asyncio.Future[OpenStream]) -> None:
    """Cancel a stream still opening; close it if it opened anyway."""
    opening.cancel()
    await asyncio.wait({opening})
    if not opening.cancelled() and opening.exception() is None:
        await opening.result().stack.aclose()


async def embed(
    gateway: Gateway, target: ModelTarget, body: dict[str, Any], record: RequestRecord | None = None
) -> Response:
    """Relay an embeddings request, adding the `usage` LocalAI leaves out."""
    served = await gateway.dispatcher.post(
        target, Capability.EMBEDDINGS, "/v1/embeddings", payloads(body, upstream_payload), record
    )
    model, reply = served.target, served.reply
    content = add_usage(rewrite_model(reply.content, model.member), body)
    note_usage(record, content)
    headers = _headers(model, target, served.backend, reply.correlation_id)
    return Response(content, reply.status, headers=headers, media_type=JSON)
