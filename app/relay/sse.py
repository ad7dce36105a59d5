"""Server-Sent Events to the client: frames, LocalAI's JSON style, a disconnect-aware response.

After the first byte no error handler can help, so a failed stream ends with an OpenAI-shaped
error frame and `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clients import UpstreamError

from ..errors import GatewayError, error_body, error_fields

DONE_FRAME = b"data: [DONE]\n\n"
KEEPALIVE_FRAME = b": keep-alive\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The frames are sent from the request's task; `DisconnectWatch` cancels it when the
        # client leaves, and closing the frames then closes their source.
        try:
            await self._pump(send)
        except OSError:
            pass  # a failed send: the client is gone
        finally:
            await self.frames.aclose()
