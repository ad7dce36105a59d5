"""Replica selection: least outstanding per weight, ties random, slots, breakers, health."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from app.errors import NoHealthyUpstream, Overloaded
from app.upstream.breaker import BreakerPolicy, CircuitBreaker
from app.upstream.replicas import Replica, ReplicaSet, Upstream


def replica_set(*specs: tuple[float, int | None]) -> ReplicaSet:
    return ReplicaSet(
        Replica(
            Upstream(f"http://r{i}"),
            CircuitBreaker(BreakerPolicy(failures=1)),
            index=i,
            weight=weight,
            max_concurrency=slots,
        )
        for i, (weight, slots) in enumerate(specs)
    )


def test_least_outstanding_wins() -> None:
    replicas = replica_set((1, None), (1, None))
    replicas.replicas[0].outstanding = 3
    assert replicas.pick(set()) is replicas.replicas[1]


def test_weights_scale_the_load() -> None:
    replicas = replica_set((1, None), (4, None))
    replicas.replicas[0].outstanding = 1
    replicas.replicas[1].outstanding = 3  # 3/4 < 1/1
    assert replicas.pick(set()) is replicas.replicas[1]


def test_ties_are_random() -> None:
    replicas = replica_set((1, None), (1, None), (1, None))
    picks = Counter(replicas.pick(set()).url for _ in range(300))  # type: ignore[union-attr]
    assert len(picks) == 3 and min(picks.values()) > 50


def test_tried_replicas_are_avoided_while_another_is_usable() -> None:
    replicas = replica_set((1, None), (1, None))
    assert replicas.pick({"http://r0"}) is replicas.replicas[1]
    assert replicas.pick({"http://r0", "http://r1"}) is not None


def test_open_breaker_and_failed_probe_are_skipped() -> None:
    replicas = replica_set((1, None), (1, None), (1, None))
    replicas.replicas[0].breaker.record(False)  # opens (failures=1)
    replicas.replicas[1].upstream.healthy = False
    for _ in range(20):
        assert replicas.pick(set()) is replicas.replicas[2]


async def test_all_down_is_a_fast_503_with_retry_after() -> None:
    replicas = replica_set((1, None))
    replicas.replicas[0].breaker.record(False)
    with pytest.raises(NoHealthyUpstream) as info:
        await replicas.acquire("m", set(), 5)
    assert info.value.status == 503
    assert int(info.value.headers["retry-after"]) >= 1


async def test_full_slots_wait_for_a_release() -> None:
    replicas = replica_set((1, 1))
    first = await replicas.acquire("m", set(), 1)
    waiter = asyncio.ensure_future(replicas.acquire("m", set(), 5))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    replicas.release(first)
    assert await asyncio.wait_for(waiter, 2) is first


async def test_full_slots_time_out_as_overloaded() -> None:
    replicas = replica_set((1, 1))
    await replicas.acquire("m", set(), 1)
    with pytest.raises(Overloaded):
        await replicas.acquire("m", set(), 0.1)


def test_a_pin_allows_only_that_replica() -> None:
    replicas = replica_set((1, None), (1, None))
    replicas.replicas[1].outstanding = 5
    for _ in range(20):
        assert replicas.pick(set(), pin=1) is replicas.replicas[1]


async def test_a_pinned_replica_that_is_down_is_a_503_even_with_others_up() -> None:
    replicas = replica_set((1, None), (1, None))
    replicas.replicas[0].breaker.record(False)
    with pytest.raises(NoHealthyUpstream):
        await replicas.acquire("m", set(), 5, pin=0)
    assert (await replicas.acquire("m", set(), 5)) is replicas.replicas[1]


async def test_a_released_slot_wakes_one_waiter_at_once() -> None:
    replicas = replica_set((1, 1))
    first = await replicas.acquire("m", set(), 1)
    waiters = [asyncio.ensure_future(replicas.acquire("m", set(), 5)) for _ in range(2)]
    await asyncio.sleep(0.01)
    replicas.release(first)
    done, pending = await asyncio.wait(waiters, timeout=0.2)  # well before the 0.5 s re-check
    assert len(done) == 1 and len(pending) == 1
    for waiter in pending:
        waiter.cancel()
