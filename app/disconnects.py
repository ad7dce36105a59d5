"""Cancel a request the moment its client is gone, so its upstream call and slots are freed.

Nothing else notices: a non-streaming request would hold its upstream connection, admission
and replica slots until the total timeout, and a stream its LocalAI slot. One watcher task per
request listens for `http.disconnect` and cancels the request's task; the cancellation closes
the upstream (every owner of an upstream call closes it in `finally`). The watcher starts once
the request body has been read (it must not take body messages from the route), after
`grace` seconds for ordinary requests (most finish sooner and never pay for a task) and at once
when a stream's headers go out.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observability.record import record_of

CLIENT_CLOSED = 499  # nginx's status for "the client closed the request", for logs and metrics
_STREAM = b"text/event-stream"


class DisconnectWatch:
    """Pure ASGI middleware: cancel the request's task when its client disconnects."""

    def __init__(self, app: ASGIApp, grace: float = 1.0) -> None:
        self.app = app
        self.grace = grace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = _Watch(receive, self.grace)
        if scope["method"] in ("GET", "HEAD"):
            watch.arm()  # no body to wait for
        try:
            await self.app(scope, watch.receive, watch.send(send))
        except asyncio.CancelledError:
            if not watch.left:
                raise
            watch.task.uncancel()  # our own cancellation: the client is gone
            record = record_of(scope)
            if record is not None and not record.status:
                record.status = CLIENT_CLOSED
        finally:
            watch.stop()


class _Watch:
    """One request's disconnect watcher and its timer."""

    __slots__ = ("_receive", "grace", "left", "task", "timer", "watcher")

    def __init__(self, receive: Receive, grace: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self._receive = receive
        self.grace = grace
        self.left = False
        self.timer: asyncio.TimerHandle | None = None
        self.watcher: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self.arm()
        return message

    def send(self, send: Send) -> Send:
        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if _is_stream(message):
                    self.start()  # a stream's client may leave any time: watch at once
                else:
                    self.stop()  # a whole reply goes out now: nothing left to cancel
            await send(message)

        return watched_send

    def arm(self) -> None:
        """Start watching after the grace period (unless watching already)."""
        if self.timer is None and self.watcher is None:
            self.timer = asyncio.get_running_loop().call_later(self.grace, self.start)

    def start(self) -> None:
        """Start the watcher task now."""
        if self.timer is not None:
            self.timer.cancel()
        if self.watcher is None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        """Stop watching (the response is out, or the request ended)."""
        if self.timer is not None:
            self.timer.cancel()
        if self.watcher is not None:
            self.watcher.cancel()

    async def _watch(self) -> None:
        with contextlib.suppress(OSError):
            while (await self._receive())["type"] != "http.disconnect":
                pass
            self.left = True
            self.task.cancel()


def _is_stream(message: Message) -> bool:
    return any(
        name == b"content-type" and value.startswith(_STREAM)
        for name, value in message.get("headers", ())
    )
