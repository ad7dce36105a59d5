"""RetryPolicy: which failures are retried, how many times, and how long to wait."""

from __future__ import annotations

import pytest

from app.settings import Settings
from app.upstream.retry import RetryPolicy
from clients import (
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamUnavailable,
)

POLICY = RetryPolicy(retries=2, backoff=0.1, backoff_max=2.0)


def status(code: int, retry_after: float | None = None) -> UpstreamStatusError:
    return UpstreamStatusError(code, {"message": "x"}, retry_after=retry_after)


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (UpstreamUnavailable("refused"), True),
        (UpstreamProtocolError("cut"), True),
        (status(503), True),
        (status(429), True),
        (status(500), False),
        (status(400), False),
        (UpstreamIdleTimeout("silent"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_failures_that_leave_the_request_unprocessed_are_retried(
    exc: BaseException, retryable: bool
) -> None:
    assert POLICY.retryable(exc) is retryable
    delay = POLICY.next_delay(1, exc, remaining=None, other_replica=True)
    assert (delay is not None) is retryable


def test_retries_count_the_attempts_after_the_first() -> None:
    error = UpstreamUnavailable("refused")
    waits = [POLICY.next_delay(n, error, remaining=None, other_replica=True) for n in (1, 2, 3)]
    assert waits[0] is not None and waits[1] is not None and waits[2] is None
    assert RetryPolicy(retries=0).next_delay(1, error, remaining=None, other_replica=True) is None


def test_backoff_doubles_with_jitter_up_to_its_ceiling() -> None:
    for failed, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (10, 2.0)):
        for _ in range(50):
            assert ceiling / 2 <= POLICY.backoff_after(failed) <= ceiling


def test_retry_after_is_waited_only_when_no_other_replica_is_left() -> None:
    error = status(503, retry_after=1.5)
    assert POLICY.next_delay(1, error, remaining=None, other_replica=True) <= 0.1  # type: ignore[operator]
    assert POLICY.next_delay(1, error, remaining=None, other_replica=False) == 1.5


@pytest.mark.parametrize("hint", [30.0, float("inf")])
def test_a_wait_past_the_deadline_means_no_retry(hint: float) -> None:
    error = status(503, retry_after=hint)
    assert POLICY.next_delay(1, error, remaining=10.0, other_replica=False) is None
    assert POLICY.next_delay(1, status(503), remaining=0.01, other_replica=True) is None


def test_a_model_may_set_its_own_retries() -> None:
    assert POLICY.with_retries(None) is POLICY
    assert POLICY.with_retries(5).retries == 5 and POLICY.with_retries(5).backoff == 0.1


def test_the_setting_means_retries_after_the_first_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALAI_GATEWAY_RETRIES", "4")
    assert Settings(_env_file=None).retry_policy.retries == 4  # type: ignore[call-arg]
    monkeypatch.setenv("LOCALAI_GATEWAY_RETRY_ATTEMPTS", "3")
    with pytest.raises(ValueError, match="LOCALAI_GATEWAY_RETRIES"):
        Settings(_env_file=None)  # type: ignore[call-arg]
