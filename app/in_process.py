"""Calls into the in-process llama.cpp backend, shaped like upstream replies and streams.

The dispatcher uses these when a model runs in-process (`legacy_mode: only`) or when its
LocalAI replicas are down (`fallback`); everything after them (model rewrite, stream stages,
usage) is the same as for LocalAI. Legacy errors become gateway or upstream errors here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from clients import UpstreamReply, UpstreamStreamError

from .errors import BackendUnavailable, InvalidRequest
from .legacy import LegacyBackend, LegacyBadRequest, LegacyError
from .registry import ModelTarget

BACKEND = "legacy"
IN_PROCESS = "in-process"


def translate(exc: LegacyError, model: str, *, streaming: bool = False) -> Exception:
    """The gateway's error for a legacy one: 400 for a bad request, else 503 (or an in-stream
    error once a stream has started)."""
    if isinstance(exc, LegacyBadRequest):
        return InvalidRequest(exc.message, param=exc.param)
    if streaming:
        error = {"message": str(exc), "type": "server_error", "param": None, "code": None}
        return UpstreamStreamError(error, model=model)
    return BackendUnavailable(f"The in-process model {model!r} is not available: {exc}")


def _config(target: ModelTarget) -> Any:
    if target.legacy is None:
        raise BackendUnavailable(f"Model {target.id!r} has no in-process configuration.")
    return target.legacy


async def post(
    backend: LegacyBackend, target: ModelTarget, path: str, payload: bytes
) -> UpstreamReply:
    """Serve a chat completion or embeddings request in-process."""
    body = orjson.loads(payload)
    try:
        if path == "/v1/chat/completions":
            result = await backend.chat(target.id, _config(target), body)
        elif path == "/v1/embeddings":
            result = await backend.embeddings(target.id, _config(target), body)
        else:
            raise BackendUnavailable(f"Model {target.id!r} cannot serve {path} in-process.")
    except LegacyError as exc:
        raise translate(exc, target.id) from exc
    return UpstreamReply(200, orjson.dumps(result), "application/json")


async def _events(chunks: AsyncIterator[dict[str, Any]], model: str) -> AsyncIterator[list[bytes]]:
    try:
        async for chunk in chunks:
            yield [orjson.dumps(chunk)]
    except LegacyError as exc:
        raise translate(exc, model, streaming=True) from exc


async def open_stream(
    backend: LegacyBackend, target: ModelTarget, payload: bytes
) -> tuple[contextlib.AsyncExitStack, AsyncIterator[list[bytes]], list[bytes] | None]:
    """Start an in-process stream and read its first chunk (request errors surface there)."""
    chunks = backend.chat_stream(target.id, _config(target), orjson.loads(payload))
    events = _events(chunks, target.id)
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(chunks.aclose)  # type: ignore[attr-defined]
    stack.push_async_callback(events.aclose)  # type: ignore[attr-defined]
    try:
        first = await anext(events, None)
    except UpstreamStreamError as exc:
        await stack.aclose()
        raise BackendUnavailable(exc.message) from exc
    except BaseException:
        await stack.aclose()
        raise
    return stack, events, first
