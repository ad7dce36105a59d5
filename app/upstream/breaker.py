"""A circuit breaker per upstream replica: closed, open after failures, half-open after a cooldown.

It opens after `failures` consecutive failures, or when at least `min_calls` of the last
`window` calls were recorded and `failure_rate` of them failed. After `cooldown` seconds one
trial call is let through (half-open): success closes it, failure opens it again.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


class BreakerState(enum.IntEnum):
    """Breaker states; the values are what the metrics export."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open."""

    failures: int = 5
    failure_rate: float = 0.5
    window: int = 20
    min_calls: int = 10
    cooldown: float = 10.0


class CircuitBreaker:
    """The health verdict for one replica, from the outcomes of real calls."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._outcomes: deque[bool] = deque(maxlen=policy.window)
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose cooldown ran out reads as half-open."""
        if self._state is BreakerState.OPEN and self.retry_in() == 0:
            return BreakerState.HALF_OPEN
        return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 when it would now)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.cooldown - self._clock())

    def available(self) -> bool:
        """True when a call may be sent now (closed, or half-open with no trial under way)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self._trial_running

    def begin(self) -> None:
        """Note that a call starts; in half-open it becomes the one trial call."""
        if self.state is BreakerState.HALF_OPEN:
            self._state = BreakerState.HALF_OPEN
            self._trial_running = True

    def record(self, success: bool) -> None:
        """Record a call's outcome and move between states."""
        self._trial_running = False
        if success:
            self._consecutive = 0
            self._outcomes.append(True)
            if self._state is not BreakerState.CLOSED:
                self._close()
            return
        self._consecutive += 1
        self._outcomes.append(False)
        if self._state is BreakerState.HALF_OPEN or self._should_open():
            self._open()

    def release(self) -> None:
        """End a call that proved nothing either way (e.g. the client left)."""
        self._trial_running = False

    def _should_open(self) -> bool:
        if self._consecutive >= self.policy.failures:
            return True
        calls = len(self._outcomes)
        if calls < self.policy.min_calls:
            return False
        failed = calls - sum(self._outcomes)
        return failed / calls >= self.policy.failure_rate

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._outcomes.clear()
