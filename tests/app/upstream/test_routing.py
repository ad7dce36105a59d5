"""Prefix routing: the conversation key, the hash ring and the bounded-load pick."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from app.upstream.breaker import BreakerPolicy, CircuitBreaker
from app.upstream.replicas import Replica, ReplicaSet, Upstream
from app.upstream.routing import prefix_key

SYSTEM = {"role": "system", "content": "You are a pirate."}


def conversation(first: str, turns: int) -> list[dict[str, str]]:
    """The `messages` of a conversation's turn `turns` (1 = its first request)."""
    messages = [SYSTEM, {"role": "user", "content": first}]
    for turn in range(2, turns + 1):
        messages += [
            {"role": "assistant", "content": f"answer {turn - 1}"},
            {"role": "user", "content": f"question {turn}"},
        ]
    return messages


def ring_set(*weights: float, load_factor: float = 1.25, urls: str = "http://r{}") -> ReplicaSet:
    return ReplicaSet(
        (
            Replica(
                Upstream(urls.format(i)),
                CircuitBreaker(BreakerPolicy(failures=1)),
                index=i,
                weight=weight,
            )
            for i, weight in enumerate(weights)
        ),
        load_factor,
    )


def keys(count: int) -> list[int]:
    draw = random.Random(7)
    return [draw.getrandbits(64) for _ in range(count)]


# ---------------------------------------------------------------- the key


def test_every_turn_of_a_conversation_has_the_same_key() -> None:
    first = prefix_key(conversation("Hi", 1))
    assert first is not None
    assert all(prefix_key(conversation("Hi", turns)) == first for turns in range(2, 7))


def test_other_conversations_have_other_keys() -> None:
    assert prefix_key(conversation("Hi", 2)) != prefix_key(conversation("Hello", 2))
    other_system = [{"role": "system", "content": "You are a parrot."}, *conversation("Hi", 1)[1:]]
    assert prefix_key(other_system) != prefix_key(conversation("Hi", 1))


def test_the_key_ignores_the_order_of_fields() -> None:
    swapped = [{"content": m["content"], "role": m["role"]} for m in conversation("Hi", 3)]
    assert prefix_key(swapped) == prefix_key(conversation("Hi", 3))


def test_the_key_covers_messages_up_to_the_first_user_message() -> None:
    greeting = {"role": "assistant", "content": "How can I help?"}
    one = [SYSTEM, greeting, {"role": "user", "content": "a"}]
    other = [SYSTEM, greeting, {"role": "user", "content": "b"}]
    assert prefix_key(one) != prefix_key(other)


@pytest.mark.parametrize("messages", [[], None, "hi"])
def test_nothing_to_hash_is_no_key(messages: object) -> None:
    assert prefix_key(messages) is None


# ---------------------------------------------------------------- the ring


def test_the_ring_is_the_same_in_every_process() -> None:
    one, other = ring_set(1, 1, 1), ring_set(1, 1, 1)
    assert one.ring is not None and other.ring is not None
    for key in keys(200):
        assert [r.url for r in one.ring.order(key)] == [r.url for r in other.ring.order(key)]


def test_every_walk_meets_every_replica_once() -> None:
    replicas = ring_set(1, 2, 1)
    assert replicas.ring is not None
    for key in keys(100):
        assert sorted(r.index for r in replicas.ring.order(key)) == [0, 1, 2]


@pytest.mark.parametrize(("weights", "shares"), [((1, 1), (0.5, 0.5)), ((1, 3), (0.25, 0.75))])
def test_keys_spread_by_weight(weights: tuple[float, ...], shares: tuple[float, ...]) -> None:
    replicas = ring_set(*weights)
    picked = Counter(replicas.pick(set(), key=key).index for key in keys(4000))  # type: ignore[union-attr]
    for index, share in enumerate(shares):
        assert picked[index] / 4000 == pytest.approx(share, abs=0.08)


def test_a_new_replica_takes_keys_only_for_itself() -> None:
    before, after = ring_set(1, 1, 1), ring_set(1, 1, 1, 1)
    moved = 0
    for key in keys(2000):
        old = before.pick(set(), key=key)
        new = after.pick(set(), key=key)
        assert old is not None and new is not None
        if new.url != old.url:
            assert new.url == "http://r3", "a key only ever moves to the new replica"
            moved += 1
    assert 0.15 < moved / 2000 < 0.35


# ---------------------------------------------------------------- the pick


def first_choice(replicas: ReplicaSet, key: int) -> Replica:
    assert replicas.ring is not None
    return replicas.ring.order(key)[0]


def test_the_same_key_always_gets_the_same_replica() -> None:
    replicas = ring_set(1, 1, 1)
    for key in keys(20):
        assert {replicas.pick(set(), key=key).url for _ in range(20)} == {  # type: ignore[union-attr]
            first_choice(replicas, key).url
        }


def test_a_down_replica_passes_its_keys_to_the_next_and_gets_them_back() -> None:
    replicas = ring_set(1, 1, 1)
    key = keys(1)[0]
    first, second, _ = replicas.ring.order(key)  # type: ignore[union-attr]
    first.breaker.record(False)  # opens (failures=1)
    assert replicas.pick(set(), key=key) is second
    first.breaker.record(True)
    assert replicas.pick(set(), key=key) is first
    first.upstream.healthy = False
    assert replicas.pick(set(), key=key) is second


def test_a_retry_moves_on_along_the_ring() -> None:
    replicas = ring_set(1, 1, 1)
    key = keys(1)[0]
    first, second, third = replicas.ring.order(key)  # type: ignore[union-attr]
    assert replicas.pick({first.url}, key=key) is second
    assert replicas.pick({first.url, second.url}, key=key) is third
    assert replicas.pick({first.url, second.url, third.url}, key=key) is first


def test_a_full_replica_passes_the_call_on() -> None:
    replicas = ring_set(1, 1)
    key = keys(1)[0]
    first, second = replicas.ring.order(key)  # type: ignore[union-attr]
    first.max_concurrency, first.outstanding = 1, 1
    assert replicas.pick(set(), key=key) is second


def test_a_replica_over_its_load_bound_passes_the_call_on() -> None:
    replicas = ring_set(1, 1, load_factor=1.25)
    key = keys(1)[0]
    first, second = replicas.ring.order(key)  # type: ignore[union-attr]
    first.outstanding = 1  # bound: ceil(1.25 x (1 + 1) / 2) = 2 calls
    assert replicas.pick(set(), key=key) is first
    first.outstanding = 2  # bound: ceil(1.25 x 3 / 2) = 2: full
    assert replicas.pick(set(), key=key) is second
    second.outstanding = 2  # bound: ceil(1.25 x 5 / 2) = 4
    assert replicas.pick(set(), key=key) is first


def test_a_higher_load_factor_tolerates_more_imbalance() -> None:
    replicas = ring_set(1, 1, load_factor=3)
    key = keys(1)[0]
    first, _ = replicas.ring.order(key)  # type: ignore[union-attr]
    first.outstanding = 2  # bound: ceil(3 x 3 / 2) = 5
    assert replicas.pick(set(), key=key) is first


def test_calls_without_a_key_take_the_least_loaded() -> None:
    replicas = ring_set(1, 1)
    replicas.replicas[0].outstanding = 3
    assert all(replicas.pick(set()) is replicas.replicas[1] for _ in range(10))


async def test_acquire_takes_the_slot_on_the_keyed_replica() -> None:
    replicas = ring_set(1, 1, 1)
    key = keys(1)[0]
    replica = await replicas.acquire("m", set(), 1, key=key)
    assert replica is first_choice(replicas, key) and replica.outstanding == 1
    replicas.release(replica)
