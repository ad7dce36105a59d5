"""Server-Sent Events to the client: relays of upstream events and a disconnect-aware response.

Each upstream event is framed and sent as soon as it arrives (no re-chunking, no buffering).
Models without stream stages take the byte relay (no JSON parse per chunk); models with stages
take the chunk relay through their `Chain`. After the first byte no error handler can help, so
a relay itself ends a failed stream with an OpenAI-shaped error event and `[DONE]`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clients import UpstreamError

from .dispatch import OpenStream
from .errors import GatewayError, error_body, error_fields
from .observability.record import RequestRecord
from .pipeline import Chain
from .relay import rewrite_model, upstream_json

log = logging.getLogger("localai_gateway.streaming")

DONE_FRAME = b"data: [DONE]\n\n"
KEEPALIVE_FRAME = b": keep-alive\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

# LocalAI serialises an empty delta as `"content":null` (no omitempty); OpenAI clients expect
# the role chunk to carry "" and the final chunk an empty delta.
_NULL_ROLE = b'"role":"assistant","content":null'
_NULL_DELTA = b'"delta":{"content":null}'
_NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


def frame(data: bytes) -> bytes:
    """Frame one event payload as an SSE `data:` event."""
    return b"data: " + data + b"\n\n"


def error_frame(exc: UpstreamError | GatewayError) -> bytes:
    """Return the OpenAI-shaped error event that ends a stream which failed mid-way."""
    return frame(error_body(error_fields(exc)))


def tidy_chunk(data: bytes, member: bytes) -> bytes:
    """Rewrite the model member and LocalAI's null deltas of chunk payloads (framed or not)."""
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


async def _with_first(
    first: list[bytes] | None, batches: AsyncIterator[list[bytes]]
) -> AsyncIterator[list[bytes]]:
    if first is None:
        return
    yield first
    async for batch in batches:
        yield batch


def relay_stream(
    stream: OpenStream, chain: Chain | None, *, include_usage: bool, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """The client frames of an opened upstream stream: byte relay, or chunk relay via `chain`."""
    if chain is None:
        return _relay_bytes(stream, include_usage, record)
    return _relay_chunks(stream, chain, include_usage, record)


def _note_usage(record: RequestRecord | None, chunk: dict[str, Any]) -> None:
    usage = chunk.get("usage")
    if record is not None and isinstance(usage, dict):
        record.tokens_in = usage.get("prompt_tokens")
        record.tokens_out = usage.get("completion_tokens")


async def _relay_bytes(
    stream: OpenStream, include_usage: bool, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """Byte relay: frame each event as it arrives, rewriting only the model member.

    The usage trailer (always requested upstream) reaches the client only if it asked for it.
    The stream's stack (upstream response and slots) is closed when the relay ends.
    """
    target = stream.target
    chunks = 0
    try:
        async for batch in _with_first(stream.first, stream.events):
            joined = b"\n\ndata: ".join(batch)
            if b'"usage"' not in joined:  # no trailer: tidy and frame the whole batch at once
                chunks += len(batch)
                yield tidy_chunk(b"data: " + joined + b"\n\n", target.member)
                continue
            frames = []
            for data in batch:
                if is_usage_trailer(data):
                    trailer = with_completion_tokens(orjson.loads(data), chunks - 2)
                    _note_usage(record, trailer)
                    if include_usage:
                        trailer["model"] = target.id
                        frames.append(frame(orjson.dumps(trailer)))
                    continue
                chunks += 1
                frames.append(frame(tidy_chunk(data, target.member)))
            if frames:
                yield b"".join(frames)  # one write for all the events one read brought
        yield DONE_FRAME
    except UpstreamError as exc:
        yield _failed(stream, exc)
        yield DONE_FRAME
    finally:
        await stream.stack.aclose()


async def _parsed(stream: OpenStream) -> AsyncIterator[dict[str, Any]]:
    target = stream.target
    async for batch in _with_first(stream.first, stream.events):
        for data in batch:
            chunk = upstream_json(data, target.id, "an event")
            chunk["model"] = target.id
            yield chunk


async def _relay_chunks(
    stream: OpenStream, chain: Chain, include_usage: bool, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """Chunk relay: parse each event, run it through the model's stages, frame the result.

    A stage that interrupts ends the stream with its finish reason; the upstream is closed.
    """
    chunks = chain.run(_parsed(stream))
    try:
        async for chunk in chunks:
            if not chunk.get("choices") and "usage" in chunk:
                chunk = with_completion_tokens(chunk, chain.usage.completion_tokens(chunk["usage"]))
                _note_usage(record, chunk)
                if include_usage:
                    yield frame(orjson.dumps(chunk))
                continue
            yield frame(orjson.dumps(chunk))
        yield DONE_FRAME
    except UpstreamError as exc:
        yield _failed(stream, exc)
        yield DONE_FRAME
    finally:
        await chunks.aclose()
        await stream.stack.aclose()


def _failed(stream: OpenStream, exc: UpstreamError) -> bytes:
    log.warning("stream for model %r failed mid-way: %s", stream.target.id, exc.message)
    stream.failed()
    return error_frame(exc)


async def keepalive_then(
    opening: asyncio.Future[OpenStream],
    interval: float,
    relay: Callable[[OpenStream], AsyncGenerator[bytes]],
    discard: Callable[[asyncio.Future[OpenStream]], Awaitable[None]],
) -> AsyncGenerator[bytes]:
    """Send `: keep-alive` comments every `interval` s until the stream opens, then relay it.

    The response has started, so a failure to open becomes an error event.
    """
    frames: AsyncGenerator[bytes] | None = None
    try:
        while not opening.done():
            yield KEEPALIVE_FRAME
            await asyncio.wait({opening}, timeout=interval)
        try:
            frames = relay(opening.result())
        except (UpstreamError, GatewayError) as exc:
            yield error_frame(exc)
            yield DONE_FRAME
            return
        async for chunk in frames:
            yield chunk
    finally:
        if frames is not None:
            await frames.aclose()
        else:
            await discard(opening)


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
        # The first frame is made before the headers go out, so the two writes leave back to
        # back and a client reading the headers finds the first event with them.
        first = await anext(self.frames, b"")
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if first:
            await send({"type": "http.response.body", "body": first, "more_body": True})
        async for chunk in self.frames:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _wait_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The frames are sent from this task; a watcher task cancels it when the client leaves
        # (one task per stream instead of two: the first byte goes out one loop turn sooner).
        relay = asyncio.current_task()
        assert relay is not None
        watcher = asyncio.ensure_future(self._wait_disconnect(receive))
        sending = True
        left = False

        def on_disconnect(done: asyncio.Future[None]) -> None:
            nonlocal left
            if sending and not done.cancelled() and done.exception() is None:
                left = True
                relay.cancel()

        watcher.add_done_callback(on_disconnect)
        try:
            await self._pump(send)
        except asyncio.CancelledError:
            if not left:
                raise
            relay.uncancel()  # our own cancellation: the client left
        except OSError:
            pass  # a failed send: the client is gone
        finally:
            sending = False
            watcher.cancel()
            await self.frames.aclose()
