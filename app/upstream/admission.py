"""Concurrency limits with a bounded wait queue: beyond them a request gets 429 at once."""

from __future__ import annotations

import asyncio

from ..errors import Overloaded, retry_after


class Admission:
    """At most `limit` requests at once (`running`); up to `max_queue` more wait (`waiting`),
    each at most `timeout` s."""

    def __init__(self, name: str, limit: int, max_queue: int, timeout: float) -> None:
        self.name = name
        self.limit = limit
        self.max_queue = max_queue
        self.timeout = timeout
        self.waiting = 0
        self.running = 0
        self._slots = asyncio.Semaphore(limit)

    async def acquire(self) -> None:
        """Take a slot, waiting in the queue when all are taken; raise `Overloaded` otherwise."""
        if not self._slots.locked():
            await self._slots.acquire()
            self.running += 1
            return
        if self.waiting >= self.max_queue:
            raise Overloaded(
                f"Too many requests for {self.name}: {self.limit} running, {self.waiting} queued.",
                headers=retry_after(1),
            )
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise Overloaded(
                f"No capacity for {self.name} within {self.timeout}s; try again shortly.",
                headers=retry_after(1),
            ) from None
        finally:
            self.waiting -= 1
        self.running += 1

    def release(self) -> None:
        """Give a slot back."""
        self.running -= 1
        self._slots.release()
