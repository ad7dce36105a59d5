"""Forwarding one request to its model's upstream and shaping the reply for the client."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from starlette.responses import Response

from clients import UpstreamProtocolError

from .errors import OutputValidationFailed
from .pipeline import (
    apply_system_template,
    build_chain,
    check_output,
    client_wants_usage,
    split_reasoning_message,
)
from .registry import ModelTarget
from .relay import add_usage, estimated_usage, rewrite_model, upstream_payload
from .state import Gateway
from .streaming import SSEResponse, relay_chain, relay_events

JSON = "application/json"


def _upstream(target: ModelTarget) -> str:
    return target.upstreams[0]


def _headers(correlation_id: str | None) -> dict[str, str] | None:
    return {"x-correlation-id": correlation_id} if correlation_id else None


def chat_payload(body: dict[str, Any], target: ModelTarget, *, stream: bool) -> bytes:
    """The upstream body: system template applied, gateway-only fields removed, usage asked."""
    body = apply_system_template(body, target.stream, body.get("metadata"))
    body.pop("include_reasoning", None)
    if stream:
        options = body.get("stream_options")
        body["stream_options"] = {**(options or {}), "include_usage": True}
    return upstream_payload(body, target)


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


def _shape_completion(content: bytes, target: ModelTarget, request: dict[str, Any]) -> bytes:
    """Apply the model's reasoning split and output validators to a complete answer."""
    try:
        response = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError(
            f"model {target.id!r}: the upstream answer is not valid JSON", model=target.id
        ) from exc
    response = split_reasoning_message(response, target.stream, request)
    violation = check_output(_visible_text(response), target.stream)
    if violation is not None:
        raise OutputValidationFailed(f"The answer of model {target.id!r} failed: {violation}.")
    response["model"] = target.id
    return orjson.dumps(response)


async def complete_chat(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Relay a non-streaming chat completion, with the model renamed back to the internal id."""
    request = dict(body)
    reply = await gateway.client.chat(
        _upstream(target),
        chat_payload(body, target, stream=False),
        model=target.id,
        timeouts=target.timeouts,
    )
    if target.stream is None:
        content = rewrite_model(reply.content, target.member)
    else:
        content = _shape_completion(reply.content, target, request)
    return Response(content, reply.status, media_type=JSON)


async def stream_chat(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Open the upstream stream and read its first event before committing to a 200.

    A failure before the first event still becomes a proper error status; after it, the relay
    reports errors in-stream.
    """
    include_usage = client_wants_usage(body)
    chain = build_chain(target.stream, body)
    payload = chat_payload(body, target, stream=True)
    stack = contextlib.AsyncExitStack()
    try:
        events = await stack.enter_async_context(
            gateway.client.chat_stream(
                _upstream(target), payload, model=target.id, timeouts=target.timeouts
            )
        )
        iterator = aiter(events)
        first = await anext(iterator, None)
    except BaseException:
        await stack.aclose()
        raise
    if chain is None:
        frames = relay_events(first, iterator, target, stack, include_usage=include_usage)
    else:
        frames = relay_chain(first, iterator, target, stack, chain, include_usage=include_usage)
    return SSEResponse(frames, _headers(events.correlation_id))


async def embed(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Relay an embeddings request, adding the `usage` LocalAI leaves out."""
    reply = await gateway.client.embeddings(
        _upstream(target), upstream_payload(body, target), model=target.id, timeouts=target.timeouts
    )
    content = add_usage(rewrite_model(reply.content, target.member), estimated_usage(body))
    return Response(content, reply.status, media_type=JSON)
