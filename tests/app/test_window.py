"""The status page's last minute per model: counts, expiry, quantiles, bounded memory."""

from __future__ import annotations

import timeit

import pytest

from app.observability.window import BOUNDS, SECONDS, RecentTraffic, quantile


def test_rps_and_errors_count_the_last_minute_only() -> None:
    recent = RecentTraffic()
    for second in range(100, 130):
        recent.record("m", 200, 0.01, second + 0.5)
    recent.record("m", 502, 0.01, 130.2)
    now = 130.9
    summary = recent.summary("m", now)
    assert summary.rps == pytest.approx(31 / SECONDS)
    assert summary.errors_per_second == pytest.approx(1 / SECONDS)
    later = recent.summary("m", 100 + SECONDS + 15)  # seconds 100..115 have left the window
    assert later.rps == pytest.approx(15 / SECONDS)
    assert recent.summary("m", 1000).rps == 0 and recent.summary("m", 1000).p50 is None


def test_a_reused_slot_starts_from_zero() -> None:
    recent = RecentTraffic()
    recent.record("m", 200, 5.0, 10.0)
    recent.record("m", 200, 0.002, 10.0 + SECONDS)  # the same slot, one minute later
    summary = recent.summary("m", 10.0 + SECONDS)
    assert summary.rps == pytest.approx(1 / SECONDS) and summary.p99 < 0.003


@pytest.mark.parametrize("latency", [0.0005, 0.003, 0.25, 7.0, 5000.0])
def test_quantiles_land_within_one_bucket(latency: float) -> None:
    recent = RecentTraffic()
    for _ in range(50):
        recent.record("m", 200, latency, 1.0)
    summary = recent.summary("m", 1.0)
    assert summary.p50 is not None and summary.p99 is not None
    top = min(latency, BOUNDS[-1])
    assert top / 2**0.5 * 0.99 <= summary.p99 <= top * 2**0.5 or latency < BOUNDS[0]


def test_quantile_interpolates_like_histogram_quantile() -> None:
    histogram = [0] * (len(BOUNDS) + 1)
    histogram[0], histogram[10] = 50, 50
    assert quantile(0.5, histogram) == pytest.approx(BOUNDS[0])
    assert BOUNDS[9] < quantile(0.99, histogram) <= BOUNDS[10]
    assert quantile(0.5, [0] * len(histogram)) is None


def test_models_a_reload_removed_are_forgotten() -> None:
    recent = RecentTraffic()
    recent.record("old", 200, 0.1, 1.0)
    recent.record("kept", 200, 0.1, 1.0)
    recent.keep_only(["kept"])
    assert recent.summary("old", 1.0).rps == 0 and recent.summary("kept", 1.0).rps > 0


def test_recording_costs_about_a_microsecond() -> None:
    recent = RecentTraffic()
    clock = iter(range(10**9))
    cost = (
        min(
            timeit.repeat(
                lambda: recent.record("m", 200, 0.012, next(clock) / 1000), number=10_000, repeat=5
            )
        )
        / 10_000
    )
    assert cost < 5e-6, f"{cost * 1e6:.2f} µs per request"
