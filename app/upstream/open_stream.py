"""An upstream stream and its one owner: everything it holds is given back in one `finally`.

`Opening` is a stream being opened in the background (its response may have to start before
the first event, with keep-alive comments); `OpenStream` is one whose first events arrived.
Closing an `OpenStream`, however the stream ended (done, upstream error, client gone, timeout,
shutdown), closes the upstream response and releases the admission slots, the replica slot
and the breaker's record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType

from ..registry import ModelTarget
from .admission import Admission
from .lease import Lease, Outcome

LOCALAI = "localai"

Events = AsyncIterator[list[bytes]]
"""Batches of event payloads: all those one network read completed."""


class OpenStream:
    """An upstream stream whose first events arrived; use with `async with`, or `aclose()`."""

    __slots__ = (
        "_closed",
        "_lease",
        "_outcome",
        "_upstream",
        "backend",
        "correlation_id",
        "events",
        "first",
        "replica",
        "target",
    )

    def __init__(
        self,
        target: ModelTarget,
        events: Events,
        first: list[bytes] | None,
        *,
        upstream: contextlib.AsyncExitStack,
        lease: Lease,
        correlation_id: str | None = None,
        backend: str = LOCALAI,
        replica: int = 0,
    ) -> None:
        self.target = target
        self.events = events
        self.first = first  # None: the stream ended before any event
        self.correlation_id = correlation_id
        self.backend = backend
        self.replica = replica  # the index of the replica that answers (LocalAI streams)
        self._upstream = upstream
        self._lease = lease
        self._outcome = Outcome.NEUTRAL
        self._closed = False

    async def batches(self) -> Events:
        """Every batch of event payloads, the first ones included."""
        if self.first is None:
            return
        yield self.first
        async for batch in self.events:
            yield batch

    def hold(self, admission: Admission) -> None:
        """Hold a slot already taken from `admission` until the stream closes."""
        self._lease.admit(admission)

    def failed(self) -> None:
        """Note that the stream failed after its first events (counted against the replica)."""
        self._outcome = Outcome.FAILURE

    async def aclose(self) -> None:
        """Close the upstream response and give back everything the stream holds (once)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._upstream.aclose()
        finally:
            self._lease.release(self._outcome)

    async def __aenter__(self) -> OpenStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Opening:
    """A stream being opened in the background.

    `commit()` says the client's response has started (keep-alive comments went out): from
    then on no retry or fallback may begin. `discard()` cancels the opening, or closes the
    stream if it opened anyway.
    """

    __slots__ = ("committed", "task")

    def __init__(self, open_stream: Callable[[Opening], Awaitable[OpenStream]]) -> None:
        self.committed = False
        self.task: asyncio.Future[OpenStream] = asyncio.ensure_future(open_stream(self))

    def commit(self) -> None:
        """Forbid any further retry or fallback: the response to the client has started."""
        self.committed = True

    async def wait(self, seconds: float | None) -> bool:
        """Wait up to `seconds` for the stream to open (or fail); True once it has."""
        try:
            await asyncio.wait({self.task}, timeout=seconds)
        except BaseException:
            await self.discard()
            raise
        return self.task.done()

    async def discard(self) -> None:
        """Cancel the opening; close the stream if it opened anyway."""
        self.task.cancel()
        await asyncio.wait({self.task})
        if not self.task.cancelled() and self.task.exception() is None:
            await self.task.result().aclose()
