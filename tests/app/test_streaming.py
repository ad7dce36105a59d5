"""SSEResponse at the ASGI level: a disconnect ends the stream and closes its source at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from starlette.types import Message

from app.streaming import SSEResponse


async def test_disconnect_while_upstream_is_silent_closes_the_source() -> None:
    closed = asyncio.Event()

    async def frames() -> AsyncGenerator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(60)  # the upstream stalls
            yield b"data: 2\n\n"
        finally:
            closed.set()

    sent: list[Message] = []
    first_body = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first_body.set()

    async def receive() -> Message:
        await first_body.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    async with asyncio.timeout(5):
        await SSEResponse(frames())(scope, receive, send)
    assert closed.is_set()
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert bodies == [b"data: 1\n\n"]


async def test_a_send_failure_is_treated_as_a_disconnect() -> None:
    closed = asyncio.Event()

    async def frames() -> AsyncGenerator[bytes]:
        try:
            while True:
                yield b"data: x\n\n"
        finally:
            closed.set()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset")

    async def receive() -> Message:
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async with asyncio.timeout(5):
        await SSEResponse(frames())({"type": "http"}, receive, send)
    assert closed.is_set()
