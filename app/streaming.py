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
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clients import UpstreamError

from .errors import GatewayError, error_body, error_fields
from .observability.record import RequestRecord
from .open_stream import Opening, OpenStream
from .pipeline import Chain
from .relay import rewrite_model, upstream_json
from .usage import CompletionCount, record_usage

log = logging.getLogger("localai_gateway.streaming")

DONE_FRAME = b"data: [DONE]\n\n"
KEEPALIVE_FRAME = b": keep-alive\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

# LocalAI serialises an empty delta as `"content":null` (no omitempty); OpenAI clients expect
# the role chunk to carry "" and the final chunk an empty delta.
_NULL_ROLE = b'"role":"assistant","content":null'
_NULL_DELTA = b'"delta":{"content":null}'
_NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


# Go's encoding/json (LocalAI's writer) escapes these even inside strings; the chunk relay does
# too, so its frames are the byte relay's for LocalAI's streams.
_GO_ESCAPES = tuple((char.encode(), f"\\u{ord(char):04x}".encode()) for char in "<>&\u2028\u2029")


def dump_like_localai(value: object) -> bytes:
    """JSON as LocalAI writes it: compact UTF-8, with `<`, `>`, `&`, U+2028 and U+2029 escaped."""
    data = orjson.dumps(value)
    for char, escaped in _GO_ESCAPES:
        if char in data:
            data = data.replace(char, escaped)
    return data


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


def tidy_delta(chunk: dict[str, Any]) -> dict[str, Any]:
    """`tidy_chunk` on a parsed chunk: the same null deltas made the same way, in place."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and "content" in delta and delta["content"] is None:
            if delta.get("role") == "assistant":
                delta["content"] = ""
            elif len(delta) == 1:
                choice["delta"] = {}
    return chunk


def relay_stream(
    stream: OpenStream, chain: Chain | None, *, include_usage: bool, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """The client frames of an opened upstream stream: byte relay, or chunk relay via `chain`.

    Both send the same frames for the same upstream events when the chain changes nothing;
    the relay owns the stream and closes it however it ends.
    """
    if chain is None:
        return _relay_bytes(stream, include_usage, record)
    return _relay_chunks(stream, chain, include_usage, record)


def _trailer(
    data: bytes, stream: OpenStream, counted: CompletionCount, record: RequestRecord | None
) -> dict[str, Any]:
    """The usage trailer to send: completion tokens filled in, the model renamed, recorded."""
    trailer = counted.fill(upstream_json(data, stream.target.id, "an event"))
    trailer["model"] = stream.target.id
    record_usage(record, trailer.get("usage"))
    return trailer


async def _relay_bytes(
    stream: OpenStream, include_usage: bool, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """Byte relay: frame each event as it arrives, rewriting only the model member.

    The usage trailer (always requested upstream) reaches the client only if it asked for it.
    """
    member = stream.target.member
    counted = CompletionCount()
    async with stream:
        try:
            async for batch in stream.batches():
                counted.add(batch)
                joined = b"\n\ndata: ".join(batch)
                if b'"usage"' not in joined:  # no trailer: tidy and frame the batch at once
                    yield tidy_chunk(b"data: " + joined + b"\n\n", member)
                    continue
                frames = []
                for data in batch:
                    if not is_usage_trailer(data):
                        frames.append(frame(tidy_chunk(data, member)))
                        continue
                    trailer = _trailer(data, stream, counted, record)
                    if include_usage:
                        frames.append(frame(dump_like_localai(trailer)))
                if frames:
                    yield b"".join(frames)  # one write for all the events one read brought
            yield DONE_FRAME
        except UpstreamError as exc:
            yield _failed(stream, exc)
            yield DONE_FRAME


async def _parsed(
    stream: OpenStream, counted: CompletionCount, trailers: list[bytes]
) -> AsyncIterator[dict[str, Any]]:
    """The upstream chunks, parsed and tidied as the byte relay tidies them; usage trailers
    are counted and set aside in `trailers`."""
    target = stream.target
    async for batch in stream.batches():
        counted.add(batch)
        for data in batch:
            if is_usage_trailer(data):
                trailers.append(data)
                continue
            chunk = tidy_delta(upstream_json(data, target.id, "an event"))
            chunk["model"] = target.id
            yield chunk


async def _relay_chunks(
    stream: OpenStream, chain: Chain, include_usage: bool, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """Chunk relay: parse each event, run it through the model's stages, frame the result.

    A stage that interrupts ends the stream with its finish reason; the upstream is closed.
    """
    counted = CompletionCount()
    trailers: list[bytes] = []
    async with stream:
        chunks = chain.run(_parsed(stream, counted, trailers))
        try:
            async for chunk in chunks:
                yield frame(dump_like_localai(chunk))
            for data in trailers:  # the usage trailer comes last, as from the upstream
                trailer = _trailer(data, stream, counted, record)
                if include_usage:
                    yield frame(dump_like_localai(trailer))
            yield DONE_FRAME
        except UpstreamError as exc:
            yield _failed(stream, exc)
            yield DONE_FRAME
        finally:
            await chunks.aclose()


def _failed(stream: OpenStream, exc: UpstreamError) -> bytes:
    log.warning("stream for model %r failed mid-way: %s", stream.target.id, exc.message)
    stream.failed()
    return error_frame(exc)


async def keepalive_then(
    opening: Opening,
    interval: float,
    relay: Callable[[OpenStream], AsyncGenerator[bytes]],
) -> AsyncGenerator[bytes]:
    """Send `: keep-alive` comments every `interval` s until the stream opens, then relay it.

    The response has started, so no retry may begin, and a failure to open becomes an error
    event.
    """
    opening.commit()
    frames: AsyncGenerator[bytes] | None = None
    try:
        while not await opening.wait(0):
            yield KEEPALIVE_FRAME
            await opening.wait(interval)
        try:
            frames = relay(opening.task.result())
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
            await opening.discard()


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
