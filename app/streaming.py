"""Server-Sent Events to the client: the relay of upstream events and a disconnect-aware response.

Each upstream event is framed and sent as soon as it arrives (no re-chunking, no buffering).
After the first byte no error handler can help, so the relay itself ends a failed stream with
an OpenAI-shaped error event and `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clients import UpstreamError

from .errors import upstream_error_object
from .relay import rewrite_model

log = logging.getLogger("localai_gateway.streaming")

DONE_FRAME = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

# LocalAI serialises an empty delta as `"content":null` (no omitempty); OpenAI clients expect
# the role chunk to carry "" and the final chunk an empty delta.
_NULL_ROLE = b'"role":"assistant","content":null'
_NULL_DELTA = b'"delta":{"content":null}'


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


async def relay_events(
    first: bytes | None,
    events: AsyncIterator[bytes],
    member: bytes,
    upstream: contextlib.AsyncExitStack,
) -> AsyncGenerator[bytes]:
    """Yield client frames for an upstream stream whose first event was already read.

    `upstream` owns the upstream response; it is closed when the relay ends for any reason.
    """
    try:
        if first is not None:
            yield frame(tidy_chunk(first, member))
            async for data in events:
                yield frame(tidy_chunk(data, member))
        yield DONE_FRAME
    except UpstreamError as exc:
        log.warning("stream for model %r failed mid-way: %s", exc.model, exc.message)
        yield error_frame(exc)
        yield DONE_FRAME
    finally:
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
