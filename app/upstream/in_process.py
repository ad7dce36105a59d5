"""Calls into the in-process llama.cpp backend, shaped like upstream replies and streams.

The dispatcher uses these when a model runs in-process (`legacy_mode: only`) or when its
LocalAI replicas are down (`fallback`); everything after them (model rewrite, stream stages,
usage) is the same as for LocalAI. The handler is found by the `Endpoint` value; Anthropic
Messages and Open Responses are answered by the chat path, through `app.translate`. llama.cpp
errors become gateway or upstream errors here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection
from typing import Any

import orjson

from clients import UpstreamReply, UpstreamStreamError
from clients.llamacpp import LlamaCppBackend, LlamaCppBadRequest, LlamaCppError, LlamaCppModelConfig

from ..errors import BackendUnavailable, InvalidRequest
from ..registry import ModelTarget
from ..translate import messages, responses
from . import endpoints
from .endpoints import Endpoint
from .payloads import JsonPayload, Payload

BACKEND = "legacy"
IN_PROCESS = "in-process"

Handler = Callable[[LlamaCppBackend, str, LlamaCppModelConfig, dict[str, Any]], Awaitable[Any]]
Streamer = Callable[
    [LlamaCppBackend, str, LlamaCppModelConfig, dict[str, Any]], AsyncGenerator[dict[str, Any]]
]


async def _message(
    backend: LlamaCppBackend, model: str, config: LlamaCppModelConfig, body: dict[str, Any]
) -> dict[str, Any]:
    """An Anthropic message, answered by the chat path."""
    return messages.message(await backend.chat(model, config, messages.chat_body(body)), model)


async def _response(
    backend: LlamaCppBackend, model: str, config: LlamaCppModelConfig, body: dict[str, Any]
) -> dict[str, Any]:
    """An Open Responses resource, answered by the chat path."""
    completion = await backend.chat(model, config, responses.chat_body(body))
    return responses.response(completion, body, model)


async def _translated(
    backend: LlamaCppBackend,
    model: str,
    config: LlamaCppModelConfig,
    chat: dict[str, Any],
    events: messages.MessageEvents | responses.ResponseEvents,
) -> AsyncGenerator[dict[str, Any]]:
    """The events `events` makes of the chat stream of `chat`."""
    async with contextlib.aclosing(backend.chat_stream(model, config, chat)) as chunks:
        async for chunk in chunks:
            for event in events.feed(chunk):
                yield event
    for event in events.close():
        yield event


def _message_events(
    backend: LlamaCppBackend, model: str, config: LlamaCppModelConfig, body: dict[str, Any]
) -> AsyncGenerator[dict[str, Any]]:
    events = messages.MessageEvents(model)
    return _translated(backend, model, config, messages.chat_body(body), events)


def _response_events(
    backend: LlamaCppBackend, model: str, config: LlamaCppModelConfig, body: dict[str, Any]
) -> AsyncGenerator[dict[str, Any]]:
    events = responses.ResponseEvents(body, model)
    return _translated(backend, model, config, responses.chat_body(body), events)


_HANDLERS: dict[Endpoint, Handler] = {
    endpoints.CHAT: LlamaCppBackend.chat,
    endpoints.EMBEDDINGS: LlamaCppBackend.embeddings,
    endpoints.COMPLETIONS: LlamaCppBackend.completion,
    endpoints.TOKENIZE: LlamaCppBackend.tokenize,
    endpoints.DETOKENIZE: LlamaCppBackend.detokenize,
    endpoints.MESSAGES: _message,
    endpoints.RESPONSES: _response,
}
_STREAMING: dict[Endpoint, Streamer] = {
    endpoints.CHAT: LlamaCppBackend.chat_stream,
    endpoints.COMPLETIONS: LlamaCppBackend.completion_stream,
    endpoints.MESSAGES: _message_events,
    endpoints.RESPONSES: _response_events,
}


def translate(exc: LlamaCppError, model: str, *, streaming: bool = False) -> Exception:
    """The gateway's error for a llama.cpp one: 400 for a bad request, else 503 (or an
    in-stream error once a stream has started)."""
    if isinstance(exc, LlamaCppBadRequest):
        return InvalidRequest(exc.message, param=exc.param, code=exc.code)
    if streaming:
        error = {"message": str(exc), "type": "server_error", "param": None, "code": None}
        return UpstreamStreamError(error, model=model)
    return BackendUnavailable(f"The in-process model {model!r} is not available: {exc}")


def _request(
    target: ModelTarget, endpoint: Endpoint, payload: Payload, served: Collection[Endpoint]
) -> tuple[LlamaCppModelConfig, dict[str, Any]]:
    """The model's llama.cpp configuration and the JSON body, if it can serve `endpoint`."""
    if target.legacy is None or endpoint not in served or not isinstance(payload, JsonPayload):
        raise BackendUnavailable(
            f"Model {target.id!r} cannot serve {endpoint.path} in-process.", param="model"
        )
    return target.legacy, payload.json(target)


async def send(
    backend: LlamaCppBackend, target: ModelTarget, endpoint: Endpoint, payload: Payload
) -> UpstreamReply:
    """Serve a whole request in-process."""
    config, body = _request(target, endpoint, payload, _HANDLERS)
    try:
        result = await _HANDLERS[endpoint](backend, target.id, config, body)
    except LlamaCppError as exc:
        raise translate(exc, target.id) from exc
    return UpstreamReply(200, orjson.dumps(result), "application/json")


async def _events(chunks: AsyncIterator[dict[str, Any]], model: str) -> AsyncGenerator[list[bytes]]:
    try:
        async for chunk in chunks:
            yield [orjson.dumps(chunk)]
    except LlamaCppError as exc:
        raise translate(exc, model, streaming=True) from exc


async def open_stream(
    backend: LlamaCppBackend, target: ModelTarget, endpoint: Endpoint, payload: Payload
) -> tuple[contextlib.AsyncExitStack, AsyncIterator[list[bytes]], list[bytes] | None]:
    """Start an in-process stream and read its first chunk (request errors surface there).

    Returns the stack that stops the generation when closed, the events and the first batch.
    """
    config, body = _request(target, endpoint, payload, _STREAMING)
    chunks = _STREAMING[endpoint](backend, target.id, config, body)
    events = _events(chunks, target.id)
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(chunks.aclose)
    stack.push_async_callback(events.aclose)
    try:
        first = await anext(events, None)
    except UpstreamStreamError as exc:
        await stack.aclose()
        raise BackendUnavailable(exc.message) from exc
    except BaseException:
        await stack.aclose()
        raise
    return stack, events, first
