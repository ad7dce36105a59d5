"""Circuit breaker transitions, on a fake clock."""

from __future__ import annotations

from app.upstream.breaker import BreakerPolicy, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(**policy: float) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(BreakerPolicy(**policy), clock), clock  # type: ignore[arg-type]


def test_opens_after_consecutive_failures_and_half_opens_after_cooldown() -> None:
    cb, clock = breaker(failures=3, cooldown=10, min_calls=100)
    for _ in range(2):
        cb.record(False)
    assert cb.state is BreakerState.CLOSED and cb.available()
    cb.record(False)
    assert cb.state is BreakerState.OPEN and not cb.available()
    assert cb.retry_in() == 10
    clock.now = 9.9
    assert not cb.available()
    clock.now = 10
    assert cb.state is BreakerState.HALF_OPEN and cb.available()


def test_half_open_allows_one_trial_and_closes_on_success() -> None:
    cb, clock = breaker(failures=1, cooldown=1)
    cb.record(False)
    clock.now = 1
    cb.begin()
    assert not cb.available(), "only one trial call at a time"
    cb.record(True)
    assert cb.state is BreakerState.CLOSED and cb.available()


def test_failed_trial_reopens() -> None:
    cb, clock = breaker(failures=1, cooldown=1)
    cb.record(False)
    clock.now = 1
    cb.begin()
    cb.record(False)
    assert cb.state is BreakerState.OPEN
    assert cb.retry_in() == 1


def test_released_trial_lets_another_through() -> None:
    cb, clock = breaker(failures=1, cooldown=1)
    cb.record(False)
    clock.now = 1
    cb.begin()
    cb.release()
    assert cb.available()


def test_opens_on_failure_rate() -> None:
    cb, _ = breaker(failures=100, failure_rate=0.5, window=10, min_calls=10)
    for index in range(9):
        cb.record(index % 2 == 0)  # 5 successes, 4 failures
    assert cb.state is BreakerState.CLOSED, "fewer than min_calls"
    cb.record(False)  # 5 of 10 failed
    assert cb.state is BreakerState.OPEN


def test_success_resets_consecutive_count() -> None:
    cb, _ = breaker(failures=2, min_calls=100)
    cb.record(False)
    cb.record(True)
    cb.record(False)
    assert cb.state is BreakerState.CLOSED
