"""Relay of Anthropic Messages and Open Responses events to the client's SSE frames.

Both APIs name their events (`event: <type>`), the name being the `type` their data starts
with (`clients.event_type`, which the stream kept). Events are relayed as bytes, whichever
backend made them (LocalAI, or the in-process translation), with the model (and a response's
id) rewritten; a failure after the first byte ends the stream with the API's own error event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import orjson

from clients import UpstreamError, event_type

from ..errors import GatewayError, anthropic_error, error_fields, error_status
from ..observability.record import RequestRecord
from ..upstream.open_stream import OpenStream
from .sse import DONE_FRAME, frame
from .stream import Failure, ended
from .usage import EVENT_TEXT, CompletionCount, record_event_usage

Rewrite = Callable[[bytes], bytes]


def named_frame(data: bytes) -> bytes:
    """One event as an SSE frame named by its type: `event: <type>` then `data: ...`."""
    name = event_type(data)
    return frame(data) if name is None else b"event: " + name + b"\ndata: " + data + b"\n\n"


def messages_failure(exc: UpstreamError | GatewayError) -> bytes:
    """Anthropic's in-stream failure: an `error` event (no `[DONE]` in this API)."""
    error = anthropic_error(error_status(exc), error_fields(exc))
    return named_frame(orjson.dumps(error))


def responses_failure(exc: UpstreamError | GatewayError) -> bytes:
    """An Open Responses failure as LocalAI tells it: `{"type": "error", "error": {...}}`
    (OpenAI's SDK raises on it), then `[DONE]`."""
    error = {"type": "error", "error": error_fields(exc)._asdict()}
    return named_frame(orjson.dumps(error)) + DONE_FRAME


@dataclass(frozen=True, slots=True)
class EventFormat:
    """How one API's stream reaches the client: what ends it, and what ends it after a
    failure."""

    done: bytes
    failure: Failure


MESSAGES_FORMAT = EventFormat(b"", messages_failure)
RESPONSES_FORMAT = EventFormat(DONE_FRAME, responses_failure)


def relay_events(
    stream: OpenStream, form: EventFormat, rewrite: Rewrite, record: RequestRecord | None
) -> AsyncGenerator[bytes]:
    """Frame each batch of events as it arrives, `rewrite` it, and note the token counts it
    carries; the relay owns the stream and closes it however it ends (see `ended`)."""
    counted = CompletionCount(EVENT_TEXT)
    frames = _named_frames(stream, rewrite, record, counted)
    return ended(stream, frames, record, counted, done=form.done, failure=form.failure)


async def _named_frames(
    stream: OpenStream, rewrite: Rewrite, record: RequestRecord | None, counted: CompletionCount
) -> AsyncGenerator[bytes]:
    async for batch in stream.batches():
        counted.add(batch)
        frames = rewrite(b"".join(map(named_frame, batch)))
        record_event_usage(record, frames)
        yield frames
