"""SSEResponse at the ASGI level, behind DisconnectWatch: a disconnect ends the stream and closes
its source at once; a disconnect while a whole reply is awaited cancels it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

import pytest
from fastapi import FastAPI, Request
from starlette.types import Message

from app.disconnects import DisconnectWatch
from app.errors import install_error_handlers
from app.relay.sse import SSEResponse


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

    scope = {"type": "http", "method": "POST", "asgi": {"spec_version": "2.4"}}
    async with asyncio.timeout(5):
        await DisconnectWatch(SSEResponse(frames()))(scope, receive, send)
    assert closed.is_set()
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert bodies == [b"data: 1\n\n"]
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # the disconnect is not a cancellation


async def test_a_cancelled_request_task_still_ends_cancelled_with_its_source_closed() -> None:
    closed = asyncio.Event()
    started = asyncio.Event()

    async def frames() -> AsyncGenerator[bytes]:
        try:
            started.set()
            await asyncio.sleep(60)
            yield b"data: 1\n\n"
        finally:
            closed.set()

    async def send(message: Message) -> None:
        pass

    async def receive() -> Message:
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    task = asyncio.ensure_future(SSEResponse(frames())({"type": "http"}, receive, send))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()  # e.g. the server shutting down
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert closed.is_set()


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


async def _echo(request: Request) -> dict[str, int]:
    return {"n": len(await request.body())}


def test_client_leaving_while_sending_its_body_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_api_route("/echo", _echo, methods=["POST"])
    messages: list[Message] = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": [],
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    caplog.set_level(logging.WARNING)
    asyncio.run(app(scope, receive, send))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_a_client_leaving_while_a_whole_reply_is_awaited_cancels_it() -> None:
    cancelled = asyncio.Event()
    sent: list[Message] = []

    async def slow_endpoint(scope: object, receive: object, send: object) -> None:
        await receive()  # type: ignore[operator]  # the body
        try:
            await asyncio.sleep(60)  # the upstream takes its time
        except asyncio.CancelledError:
            cancelled.set()
            raise

    messages: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}  # the client is gone

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST"}
    async with asyncio.timeout(5):
        await DisconnectWatch(slow_endpoint, grace=0.05)(scope, receive, send)  # type: ignore[arg-type]
    assert cancelled.is_set() and sent == []
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_a_quick_reply_starts_no_watcher() -> None:
    async def endpoint(scope: object, receive: object, send: object) -> None:
        await receive()  # type: ignore[operator]
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        pass

    tasks_before = len(asyncio.all_tasks())
    await DisconnectWatch(endpoint, grace=60)({"type": "http", "method": "POST"}, receive, send)  # type: ignore[arg-type]
    assert len(asyncio.all_tasks()) == tasks_before
