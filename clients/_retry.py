"""When `LocalAIClient` tries a failed call again: which errors, how long it waits, until when.

Only failures that leave the request unprocessed or refused for now are retried: no connection
(`UpstreamUnavailable`, `UpstreamConnectTimeout`) and statuses 429, 502, 503 and 504. The wait
grows exponentially with jitter; an upstream's `Retry-After` is honoured, and a wait that would
end past the call's deadline (or past `max_wait`) means the error is raised at once. A stream is
retried only while it opens, never once its response has started.
"""

from __future__ import annotations

import asyncio
import random
from asyncio import sleep
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ._errors import (
    RETRYABLE_STATUSES,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamStatusError,
    UpstreamUnavailable,
)

T = TypeVar("T")


def retryable(exc: UpstreamError) -> bool:
    """Whether another attempt may follow `exc`."""
    if isinstance(exc, UpstreamStatusError):
        return exc.status in RETRYABLE_STATUSES
    return isinstance(exc, UpstreamUnavailable | UpstreamConnectTimeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Retries after the first attempt and the waits between them, in seconds."""

    max_retries: int = 3
    base: float = 0.5
    cap: float = 8.0
    max_wait: float = 60.0

    def delay(self, failed: int, exc: UpstreamError, remaining: float | None) -> float | None:
        """The wait before attempt `failed + 1`, or None when none may follow."""
        if failed > self.max_retries or not retryable(exc):
            return None
        wait = min(self.cap, self.base * 2.0 ** (failed - 1)) * random.uniform(0.5, 1.0)
        if isinstance(exc, UpstreamStatusError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        if wait > self.max_wait or (remaining is not None and wait >= remaining):
            return None
        return wait


async def retrying(
    attempt: Callable[[], Awaitable[T]], backoff: Backoff, deadline: float | None
) -> T:
    """Return `await attempt()`, calling it again after retryable failures.

    `deadline` is the event-loop time by which every attempt and wait must be over (None: none).
    """
    loop = asyncio.get_running_loop()
    failed = 0
    while True:
        try:
            return await attempt()
        except UpstreamError as exc:
            failed += 1
            remaining = None if deadline is None else deadline - loop.time()
            wait = backoff.delay(failed, exc, remaining)
            if wait is None:
                raise
        await sleep(wait)
