"""When a failed upstream attempt is tried again, and after how long: one frozen policy.

`retries` counts the attempts after the first, both in the registry (per model) and in the
setting `LOCALAI_GATEWAY_RETRIES` (the default). A retry needs a retryable upstream error
(`UpstreamError.retryable`: connect errors, 429/502/503/504, malformed replies, streams that fail
before their first event), a response not yet started, an attempt left and time left.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from clients import UpstreamError, UpstreamStatusError


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Retries after the first attempt, and the exponential backoff (with jitter) between them."""

    retries: int = 2
    backoff: float = 0.1
    backoff_max: float = 2.0

    def with_retries(self, retries: int | None) -> RetryPolicy:
        """This policy with another retry count (None keeps this one's)."""
        return self if retries is None else dataclasses.replace(self, retries=retries)

    def retryable(self, exc: BaseException) -> bool:
        """Whether `exc` leaves the request unprocessed, so that another attempt may follow."""
        return isinstance(exc, UpstreamError) and exc.retryable

    def attempts_left(self, failed: int) -> bool:
        """Whether another attempt may follow `failed` failed ones."""
        return failed <= self.retries

    def backoff_after(self, failed: int) -> float:
        """The jittered exponential wait after the `failed`-th failed attempt."""
        ceiling = min(self.backoff_max, self.backoff * 2.0 ** (failed - 1))
        return ceiling * random.uniform(0.5, 1.0)

    def next_delay(
        self,
        failed: int,
        exc: BaseException,
        *,
        remaining: float | None,
        other_replica: bool,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when none may follow.

        `remaining` is the time left of the request's deadline (None: no deadline) and
        `other_replica` whether an untried replica is usable. An upstream's `Retry-After` is
        honoured when the retry would go to a replica already tried; a wait that would not end
        before the deadline means no retry (the error then goes to the client at once).
        """
        if not (self.retryable(exc) and self.attempts_left(failed)):
            return None
        wait = self.backoff_after(failed)
        hinted = exc.retry_after if isinstance(exc, UpstreamStatusError) else None
        if hinted is not None and not other_replica:
            wait = max(wait, hinted)
        if remaining is not None and wait >= remaining:
            return None
        return wait
