"""Relays of upstream stream events to the client's SSE frames.

Each upstream event is framed and sent as soon as it arrives (no re-chunking, no buffering).
Models without stream stages take the byte relay (no JSON parse per chunk); models with stages
take the chunk relay through their `Chain`. Every relay ends through `ended`: a failed stream
with its API's error event (`[DONE]` after it in OpenAI's).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from clients import UpstreamError, upstream_json

from ..errors import GatewayError, GatewayFailure, UpstreamSchemaViolation, scrub
from ..observability.record import RequestRecord
from ..pipeline import Chain
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream.dispatch import Prepare
from ..upstream.endpoints import Endpoint
from ..upstream.open_stream import Opening, OpenStream
from ..upstream.payloads import Payload
from .bodies import rewrite_model
from .replies import reply_headers
from .sse import DONE_FRAME, KEEPALIVE_FRAME, SSEResponse, dump_like_localai, error_frame, frame
from .usage import CompletionCount, record_usage

log = logging.getLogger("localai_gateway.streaming")


# LocalAI serialises an empty delta as `"content":null` (no omitempty); OpenAI clients expect
# the role chunk to carry "" and the final chunk an empty delta.
_NULL_ROLE = b'"role":"assistant","content":null'
_NULL_DELTA = b'"delta":{"content":null}'
_NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


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


@dataclass(frozen=True, slots=True)
class ChunkShape:
    """What a stream's chunks are: the `object` of its usage trailer (LocalAI calls a text
    completion's trailer `chat.completion.chunk` too), and the byte rewrite of its events
    (the model member, and what LocalAI writes unlike OpenAI)."""

    kind: str
    tidy: Callable[[bytes, bytes], bytes]


CHAT_CHUNKS = ChunkShape("chat.completion.chunk", tidy_chunk)


def relay_stream(
    stream: OpenStream,
    chain: Chain | None,
    *,
    include_usage: bool,
    record: RequestRecord | None,
    shape: ChunkShape = CHAT_CHUNKS,
) -> AsyncGenerator[bytes]:
    """The client frames of an opened upstream stream: byte relay, or chunk relay via `chain`
    (chat chunks only).

    Both send the same frames for the same upstream events when the chain changes nothing;
    the relay owns the stream and closes it however it ends.
    """
    counted = CompletionCount()
    if chain is None:
        frames = _relay_bytes(stream, counted, include_usage, record, shape)
    else:
        frames = _relay_chunks(stream, chain, counted, include_usage, record)
    return ended(stream, frames, record, counted)


def openai_failure(exc: UpstreamError | GatewayError) -> bytes:
    """The frames that end an OpenAI stream after a failure: the error event, then `[DONE]`."""
    return error_frame(exc) + DONE_FRAME


Failure = Callable[[UpstreamError | GatewayError], bytes]
"""The frames that end a stream of one API after a failure."""


async def ended(
    stream: OpenStream,
    frames: AsyncGenerator[bytes],
    record: RequestRecord | None,
    counted: CompletionCount | None = None,
    *,
    done: bytes = DONE_FRAME,
    failure: Failure = openai_failure,
) -> AsyncGenerator[bytes]:
    """`frames`, then `done`; a failure of any kind mid-way ends the stream with `failure`'s
    frames and a failure on the replica's breaker. However it ends (the client gone included),
    the stream is closed and the completion tokens `counted` are recorded."""
    finished = False
    async with stream:
        try:
            async for data in frames:
                yield data
            finished = True
            if done:
                yield done
        except UpstreamError as exc:
            log.warning(
                "stream of model %r failed mid-way: %s", stream.target.id, scrub(exc.message)
            )
            stream.failed()
            yield failure(exc)
        except Exception:
            log.exception("stream of model %r broke in the gateway", stream.target.id)
            stream.failed()
            yield failure(GatewayFailure("The gateway failed while relaying this stream."))
        finally:
            await frames.aclose()
            if counted is not None:
                counted.settle(record, finished)


def _trailer(
    data: bytes,
    stream: OpenStream,
    counted: CompletionCount,
    record: RequestRecord | None,
    shape: ChunkShape = CHAT_CHUNKS,
) -> dict[str, Any]:
    """The usage trailer to send: completion tokens filled in, the model renamed, recorded."""
    trailer = counted.fill(upstream_json(data, stream.target.id, "an event"))
    trailer["model"] = stream.target.id
    trailer["object"] = shape.kind
    record_usage(record, trailer.get("usage"))
    return trailer


async def _relay_bytes(
    stream: OpenStream,
    counted: CompletionCount,
    include_usage: bool,
    record: RequestRecord | None,
    shape: ChunkShape,
) -> AsyncGenerator[bytes]:
    """Byte relay: frame each event as it arrives, rewriting only the model member.

    The usage trailer (always requested upstream) reaches the client only if it asked for it.
    """
    member = stream.target.member
    async for batch in stream.batches():
        counted.add(batch)
        joined = b"\n\ndata: ".join(batch)
        if b'"usage"' not in joined:  # no trailer: tidy and frame the batch at once
            yield shape.tidy(b"data: " + joined + b"\n\n", member)
            continue
        frames = []
        for data in batch:
            if not is_usage_trailer(data):
                frames.append(frame(shape.tidy(data, member)))
                continue
            trailer = _trailer(data, stream, counted, record, shape)
            if include_usage:
                frames.append(frame(dump_like_localai(trailer)))
        if frames:
            yield b"".join(frames)  # one write for all the events one read brought


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
    stream: OpenStream,
    chain: Chain,
    counted: CompletionCount,
    include_usage: bool,
    record: RequestRecord | None,
) -> AsyncGenerator[bytes]:
    """Chunk relay: parse each event, run it through the model's stages, frame the result.

    A stage that interrupts ends the stream with its finish reason; the upstream is closed.
    """
    trailers: list[bytes] = []
    chunks = chain.run(_parsed(stream, counted, trailers))
    try:
        violation = None
        try:
            async for chunk in chunks:
                yield frame(dump_like_localai(chunk))
        except UpstreamSchemaViolation as exc:  # the whole answer, checked at its end
            violation = exc
        for data in trailers:  # the usage trailer comes last, as from the upstream
            trailer = _trailer(data, stream, counted, record)
            if include_usage:
                yield frame(dump_like_localai(trailer))
        if violation is not None:
            yield error_frame(violation)
    finally:
        await chunks.aclose()


Relay = Callable[[OpenStream], AsyncGenerator[bytes]]


async def stream_reply(
    gateway: Gateway,
    asked: ModelTarget,
    endpoint: Endpoint,
    payload: Payload,
    relay: Relay,
    *,
    record: RequestRecord | None,
    pin: int | None = None,
    prepare: Prepare | None = None,
    failure: Failure = openai_failure,
) -> SSEResponse:
    """Open `endpoint`'s stream for `asked` and reply with it, `relay`ed, once its first event
    arrived (a failure before it still becomes a proper error status, after retries). When the
    first event is slow, the response starts with `: keep-alive` comments every
    `KEEPALIVE_INTERVAL` seconds instead, and a later failure is told in-stream by `failure`.
    `prepare` runs once the request is admitted (see `Dispatcher.send`)."""
    opening = gateway.dispatcher.start_stream(
        asked, endpoint, payload, record=record, pin=pin, prepare=prepare
    )
    interval = gateway.settings.keepalive_interval or None
    if not await opening.wait(interval):
        assert interval is not None
        return SSEResponse(keepalive_then(opening, interval, relay, failure))
    stream = opening.task.result()
    headers = reply_headers(stream.target, asked, stream.backend, stream.correlation_id)
    return SSEResponse(relay(stream), headers)


async def keepalive_then(
    opening: Opening, interval: float, relay: Relay, failure: Failure = openai_failure
) -> AsyncGenerator[bytes]:
    """Send `: keep-alive` comments every `interval` s until the stream opens, then relay it.

    The response has started, so no retry may begin, and a failure to open becomes the API's
    error event (`failure`).
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
            yield failure(exc)
            return
        async for chunk in frames:
            yield chunk
    finally:
        if frames is not None:
            await frames.aclose()
        else:
            await opening.discard()
