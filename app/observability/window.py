"""The last minute of traffic per model, for the status page: requests, errors and latency.

Each model has a ring of 60 one-second buckets; a bucket holds its second's requests, server
errors (5xx) and a latency histogram over fixed bounds (1 ms to ~12 min, each bound sqrt(2)
times the last). Recording a request is O(1): a bisect over the bounds and three increments; a
bucket is zeroed when its slot comes round again. Memory is bounded: models x 60 x 41 counters.
Quantiles interpolate within a bucket, as Prometheus's `histogram_quantile` does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection
from dataclasses import dataclass

SECONDS = 60
BOUNDS = tuple(0.001 * 2 ** (i / 2) for i in range(40))  # upper bounds, seconds


class _Second:
    """One second of one model's traffic."""

    __slots__ = ("errors", "histogram", "requests", "second")

    def __init__(self) -> None:
        self.second = -1
        self.requests = 0
        self.errors = 0
        self.histogram = [0] * (len(BOUNDS) + 1)  # the last slot: above the top bound

    def restart(self, second: int) -> None:
        self.second = second
        self.requests = self.errors = 0
        self.histogram[:] = _ZEROS


_ZEROS = [0] * (len(BOUNDS) + 1)


@dataclass(frozen=True, slots=True)
class Summary:
    """One model's last minute: requests and 5xx per second, latency quantiles in seconds."""

    rps: float
    errors_per_second: float
    p50: float | None
    p99: float | None


class RecentTraffic:
    """Per-model rings of one-second buckets, on the `time.perf_counter` clock."""

    def __init__(self) -> None:
        self._models: dict[str, list[_Second]] = {}

    def record(self, model: str, status: int, latency: float, now: float) -> None:
        """Count one finished request of `model` (at `now`, perf_counter seconds)."""
        ring = self._models.get(model)
        if ring is None:
            ring = self._models[model] = [_Second() for _ in range(SECONDS)]
        second = int(now)
        bucket = ring[second % SECONDS]
        if bucket.second != second:
            bucket.restart(second)
        bucket.requests += 1
        if status >= 500:
            bucket.errors += 1
        bucket.histogram[bisect_left(BOUNDS, latency)] += 1

    def summary(self, model: str, now: float) -> Summary:
        """The last `SECONDS` seconds of `model` up to `now`."""
        oldest = int(now) - SECONDS + 1
        live = [b for b in self._models.get(model, ()) if b.second >= oldest]
        merged = [sum(counts) for counts in zip(*(b.histogram for b in live), strict=True)]
        return Summary(
            rps=sum(b.requests for b in live) / SECONDS,
            errors_per_second=sum(b.errors for b in live) / SECONDS,
            p50=quantile(0.5, merged),
            p99=quantile(0.99, merged),
        )

    def keep_only(self, models: Collection[str]) -> None:
        """Forget the models not in `models` (a reload removed them)."""
        for model in [m for m in self._models if m not in models]:
            del self._models[model]


def quantile(q: float, histogram: list[int]) -> float | None:
    """The `q` quantile of a histogram over `BOUNDS` (None when empty); within a bucket the
    values are taken as spread evenly, and above the top bound as the top bound."""
    total = sum(histogram)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            if index == len(BOUNDS):
                return BOUNDS[-1]
            lower = BOUNDS[index - 1] if index else 0.0
            return lower + (BOUNDS[index] - lower) * (rank - seen) / count
        seen += count
    return BOUNDS[-1]


RECENT = RecentTraffic()
