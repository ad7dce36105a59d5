"""Server-Sent Events to the client: relays of upstream events and a disconnect-aware response.

Each upstream event is framed and sent as soon as it arrives (no re-chunking, no buffering).
Models without stream stages take the byte relay (no JSON parse per chunk); models with stages
take the chunk relay through their `Chain`. After the first byte no error handler can help, so
a relay itself ends a failed stream with an OpenAI-shaped error event and `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clients import UpstreamError, UpstreamProtocolError

from .errors import upstream_error_object
from .pipeline import Chain
from .registry import ModelTarget
from .relay import rewrite_model

log = logging.getLogger("localai_gateway.streaming")

DONE_FRAME = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

# LocalAI serialises an empty delta as `"content":null` (no omitempty); OpenAI clients expect
# the role chunk to carry "" and the final chunk an empty delta.
_NULL_ROLE = b'"role":"assistant","content":null'
_NULL_DELTA = b'"delta":{"content":null}'
_NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


def frame(data: bytes) -> bytes:
    """Frame one event payload as an SSE `data:` event."""
    return b"data: " + data + b"\n\n"


def error_frame(exc: UpstreamError) -> bytes:
    """Return the OpenAI-shaped error event that ends a stream which failed mid-way."""
    return frame(orjson.dumps({"error": upstream_error_object(exc)}))


def tidy_chunk(data: bytes, member: bytes) -> bytes:
    """Rewrite the model member and LocalAI's null deltas of one chunk payload."""
    if b'"content":null' in data:
        data = data.replace(_NULL_ROLE, b'"role":"assistant","content":""').replace(
            _NULL_DELTA, b'"delta":{}'
        )
    return rewrite_model(data, member)


def is_usage_trailer(data: bytes) -> bool:
    """True for the `choices: []` chunk that carries `usage` (`stream_options.include_usage`)."""
    return b'"usage"' in data and _NO_CHOICES.search(data) is not None


def with_completion_tokens(chunk: dict[str, Any], counted: int) -> dict[str, Any]:
    """Fill `usage.completion_tokens` from the counted deltas when the upstream gave none."""
    usage = chunk.get("usage")
    if isinstance(usage, dict) and not usage.get("completion_tokens") and counted > 0:
        prompt = usage.get("prompt_tokens") or 0
        chunk["usage"] = {**usage, "completion_tokens": counted, "total_tokens": prompt + counted}
    return chunk


async def _with_first(first: bytes | None, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first is None:
        return
    yield first
    async for data in events:
        yield data


async def relay_events(
    first: bytes | None,
    events: AsyncIterator[bytes],
    target: ModelTarget,
    upstream: contextlib.AsyncExitStack,
    *,
    include_usage: bool,
) -> AsyncGenerator[bytes]:
    """Byte relay: yield client frames for an upstream stream whose first event was read.

    The usage trailer (always requested upstream) reaches the client only if it asked for it.
    `upstream` owns the upstream response and is closed when the relay ends for any reason.
    """
    chunks = 0
    try:
        async for data in _with_first(first, events):
            if is_usage_trailer(data):
                if include_usage:
                    trailer = with_completion_tokens(orjson.loads(data), chunks - 2)
                    trailer["model"] = target.id
                    yield frame(orjson.dumps(trailer))
                continue
            chunks += 1
            yield frame(tidy_chunk(data, target.member))
        yield DONE_FRAME
    except UpstreamError as exc:
        log.warning("stream for model %r failed mid-way: %s", exc.model, exc.message)
        yield error_frame(exc)
        yield DONE_FRAME
    finally:
        await upstream.aclose()


async def _parsed(
    first: bytes | None, events: AsyncIterator[bytes], target: ModelTarget
) -> AsyncIterator[dict[str, Any]]:
    async for data in _with_first(first, events):
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError(
                f"model {target.id!r}: the upstream sent a malformed event", model=target.id
            ) from exc
        chunk["model"] = target.id
        yield chunk


async def relay_chain(
    first: bytes | None,
    events: AsyncIterator[bytes],
    target: ModelTarget,
    upstream: contextlib.AsyncExitStack,
    chain: Chain,
    *,
    include_usage: bool,
) -> AsyncGenerator[bytes]:
    """Chunk relay: parse each event, run it through the model's stages, frame the result.

    A stage that interrupts ends the stream with its finish reason; the upstream is closed.
    """
    chunks = chain.run(_parsed(first, events, target))
    try:
        async for chunk in chunks:
            if not chunk.get("choices") and "usage" in chunk:
                if include_usage:
                    counted = chain.usage.completion_tokens(chunk["usage"])
                    yield frame(orjson.dumps(with_completion_tokens(chunk, counted)))
                continue
            yield frame(orjson.dumps(chunk))
        yield DONE_FRAME
    except UpstreamError as exc:
        log.warning("stream for model %r failed mid-way: %s", exc.model, exc.message)
        yield error_frame(exc)
        yield DONE_FRAME
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
        await upstream.aclose()


class SSEResponse(Response):
    """A `text/event-stream` response that stops, and closes its source, on client disconnect.

    Starlette's StreamingResponse leaves its iterator to the garbage collector, and under ASGI
    spec 2.4 notices a disconnect only when a send fails; here a watcher task ends the stream
    at once on any server, and `aclose()` releases the upstream before the response returns.
    """

    media_type = "text/event-stream"

    def __init__(
        self, frames: AsyncGenerator[bytes], headers: dict[str, str] | None = None
    ) -> None:
        self.status_code = 200
        self.background = None
        self.frames = frames
        self.init_headers({**SSE_HEADERS, **headers} if headers else SSE_HEADERS)

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async for chunk in self.frames:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _wait_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watcher = asyncio.ensure_future(self._wait_disconnect(receive))
        try:
            await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watcher):
                task.cancel()
            await asyncio.gather(pump, watcher, return_exceptions=True)
            await self.frames.aclose()
        error = None if pump.cancelled() else pump.exception()
        if error is not None and not isinstance(error, OSError):
            raise error
