"""Forwarding one request to its model's upstream and shaping the reply for the client."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.responses import Response

from .registry import ModelTarget
from .relay import add_usage, estimated_usage, model_member, rewrite_model, upstream_payload
from .state import Gateway
from .streaming import SSEResponse, relay_events

JSON = "application/json"


def _upstream(target: ModelTarget) -> str:
    return target.upstreams[0]


def _headers(correlation_id: str | None) -> dict[str, str] | None:
    return {"x-correlation-id": correlation_id} if correlation_id else None


async def complete_chat(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Relay a non-streaming chat completion, with the model renamed back to the internal id."""
    reply = await gateway.client.chat(
        _upstream(target), upstream_payload(body, target), model=target.id, timeouts=target.timeouts
    )
    content = rewrite_model(reply.content, model_member(target))
    return Response(content, reply.status, media_type=JSON)


async def stream_chat(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Open the upstream stream and read its first event before committing to a 200.

    A failure before the first event still becomes a proper error status; after it, the relay
    reports errors in-stream.
    """
    payload = upstream_payload(body, target)
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
    frames = relay_events(first, iterator, model_member(target), stack)
    return SSEResponse(frames, _headers(events.correlation_id))


async def embed(gateway: Gateway, target: ModelTarget, body: dict[str, Any]) -> Response:
    """Relay an embeddings request, adding the `usage` LocalAI leaves out."""
    reply = await gateway.client.embeddings(
        _upstream(target), upstream_payload(body, target), model=target.id, timeouts=target.timeouts
    )
    content = add_usage(rewrite_model(reply.content, model_member(target)), estimated_usage(body))
    return Response(content, reply.status, media_type=JSON)
