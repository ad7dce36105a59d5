"""Prefix routing: every turn of a conversation goes to the replica that holds its prompt cache.

A llama.cpp server keeps the KV cache of its last prompts, so a turn that lands where the
previous turn of its conversation ran skips re-reading the whole prefix. `prefix_key` hashes a
conversation's leading messages (system and developer messages up to the first user message,
after Anthropic's `system` or the Responses `instructions`, as canonical JSON): the same key
for every turn of one conversation, in every worker and pod.

`HashRing` places each replica at points on a 64-bit ring (`POINTS` per replica of average
weight, hashed from its URL, so every gateway process builds the same ring) and stores, for the
arc before each point, the replicas in the order a clockwise walk from there meets them. A key's
walk is that order: the first candidate whose load stays within its bound takes the request
(consistent hashing with bounded loads, Mirrokni, Thorup and Zadimoghaddam 2018), so a hot
conversation spills to the next replica instead of queueing, and a retry moves on along the ring.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

import orjson

POINTS = 256  # ring points of a replica of average weight: arcs within ~10% of even


class Loaded(Protocol):
    """What the ring needs of a replica: its URL, weight and calls in flight."""

    @property
    def url(self) -> str: ...

    weight: float
    outstanding: int


R = TypeVar("R", bound=Loaded)


def hash64(data: bytes) -> int:
    """A stable 64-bit hash (the same in every process, unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def prefix_key(messages: object, preamble: object = None) -> int | None:
    """The routing key of a conversation's `messages`: a hash of its leading messages up to
    and with the first user message, after the `preamble` kept outside them (Anthropic's
    `system`, Responses' `instructions`); None when there is nothing to hash."""
    if not isinstance(messages, list) or not messages:
        return None
    leading: list[object] = [] if preamble is None else [preamble]
    for message in messages:
        leading.append(message)
        if isinstance(message, dict) and message.get("role") == "user":
            break
    return hash64(orjson.dumps(leading, option=orjson.OPT_SORT_KEYS))


class HashRing(Generic[R]):
    """The replicas of one model on a hash ring, with each arc's walk order precomputed."""

    __slots__ = ("_orders", "_points", "load_factor")

    def __init__(self, replicas: Sequence[R], load_factor: float) -> None:
        self.load_factor = load_factor
        mean_weight = sum(replica.weight for replica in replicas) / max(len(replicas), 1)
        placed = sorted(
            (hash64(f"{replica.url}#{point}".encode()), position)
            for position, replica in enumerate(replicas)
            for point in range(max(1, round(POINTS * replica.weight / mean_weight)))
        )
        self._points = [point for point, _ in placed]
        # The walk from point k meets k's owner first, then the walk from point k + 1 without
        # it; from the last point the walk wraps to the first (replicas by first appearance).
        walk = tuple(dict.fromkeys(position for _, position in placed))
        orders: list[tuple[R, ...]] = []
        for _, owner in reversed(placed):
            walk = (owner, *(position for position in walk if position != owner))
            orders.append(tuple(replicas[position] for position in walk))
        self._orders = orders[::-1]

    def order(self, key: int) -> tuple[R, ...]:
        """The replicas in the order the walk for `key` meets them."""
        if not self._points:
            return ()
        return self._orders[bisect_left(self._points, key) % len(self._points)]

    def choose(self, candidates: Sequence[R], loaded: Sequence[R]) -> R | None:
        """The first of `candidates` (in walk order) whose calls in flight stay under its bound:
        `load_factor` x its weight's share of all calls in `loaded` (every replica that may be
        called, `candidates` among them) plus this one, rounded up; the least loaded per weight
        when every candidate is at its bound."""
        total = sum(replica.outstanding for replica in loaded) + 1
        per_weight = self.load_factor * total / sum(replica.weight for replica in loaded)
        for replica in candidates:
            if replica.outstanding < math.ceil(per_weight * replica.weight):
                return replica
        return min(candidates, key=lambda r: r.outstanding / r.weight, default=None)
