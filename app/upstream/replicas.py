"""The replicas of each model: replica selection, slots, breakers and probed health.

An `Upstream` is one base URL and the verdict of its health probe, shared by every model it
serves. A `Replica` is one upstream serving one model: its weight, its slot count (LocalAI's
parallel slots for that model) and the breaker its calls' outcomes feed, one per (URL, LocalAI
model): a model that fails does not take the others on the same LocalAI down with it.
A `ReplicaSet` picks by least outstanding calls per weight, or, for a model routed by prefix,
the replica a request's routing key hashes to (`routing.HashRing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Iterable, Sequence

from ..errors import NoHealthyUpstream, Overloaded, retry_after
from .breaker import CircuitBreaker
from .routing import HashRing

_RECHECK = 0.5  # seconds between re-checks while waiting for a slot


class Upstream:
    """One LocalAI base URL, its public name and health endpoint, the verdict of the last health
    probe, and when it last answered real traffic (event-loop clock)."""

    __slots__ = ("health_path", "healthy", "last_success", "name", "probed", "url")

    def __init__(self, url: str, name: str = "", health_path: str = "/readyz") -> None:
        self.url = url
        self.name = name or url
        self.health_path = health_path
        self.healthy = True
        self.probed = True  # False once it proved to have no health endpoint
        self.last_success = float("-inf")


class Replica:
    """One upstream serving one model, with its weight, slots and breaker."""

    __slots__ = ("breaker", "index", "max_concurrency", "outstanding", "upstream", "weight")

    def __init__(
        self,
        upstream: Upstream,
        breaker: CircuitBreaker,
        *,
        index: int = 0,
        weight: float = 1.0,
        max_concurrency: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.breaker = breaker
        self.index = index  # position in the model's `upstreams`
        self.weight = weight
        self.max_concurrency = max_concurrency
        self.outstanding = 0

    @property
    def url(self) -> str:
        """The replica's base URL."""
        return self.upstream.url

    def usable(self, panic: bool = False) -> bool:
        """True when probes say it is up (or in panic) and its breaker lets a call through."""
        return (panic or self.upstream.healthy) and self.breaker.available()

    def has_slot(self) -> bool:
        """True when fewer calls are in flight than its slots."""
        return self.max_concurrency is None or self.outstanding < self.max_concurrency


class ReplicaSet:
    """The replicas of one model; picks one for each call and hands out slots.

    With `prefix_load_factor` the replicas also sit on a hash ring, and calls that carry a
    routing key go to the first replica on the key's walk within its load bound.
    """

    def __init__(
        self, replicas: Iterable[Replica], prefix_load_factor: float | None = None
    ) -> None:
        self.replicas = tuple(replicas)
        self.ring: HashRing[Replica] | None = None
        if prefix_load_factor is not None:
            self.ring = HashRing(self.replicas, prefix_load_factor)
        self._waiters: deque[asyncio.Future[None]] = deque()

    def panic(self) -> bool:
        """True when every replica is down by its probe alone (no breaker open): then the
        probes are not trusted and the replicas are tried anyway (Envoy's panic threshold)."""
        return not any(r.upstream.healthy for r in self.replicas) and any(
            r.breaker.available() for r in self.replicas
        )

    def usable(self) -> list[Replica]:
        """Replicas that may be called: healthy (or all down by probes only) and not open."""
        panic = self.panic()
        return [replica for replica in self.replicas if replica.usable(panic)]

    def all_down(self) -> bool:
        """True when no replica is usable (probed down or breaker open)."""
        return not self.usable()

    def untried(self, tried: set[str]) -> bool:
        """True when a usable replica is not in `tried`."""
        return any(replica.url not in tried for replica in self.usable())

    def retry_in(self) -> float:
        """Seconds until the first open breaker half-opens (how long all-down lasts at least)."""
        return min((r.breaker.retry_in() for r in self.replicas), default=0.0)

    def pick(
        self, tried: set[str], pin: int | None = None, key: int | None = None
    ) -> Replica | None:
        """The replica for one call among usable replicas with a free slot: least outstanding
        per weight (ties random), or with a routing `key` and a ring, the first on the key's
        walk within its load bound.

        Replicas in `tried` are avoided while another one is usable (so a retry moves on along
        the ring); `pin` allows only the replica at that index.
        """
        if key is not None and self.ring is not None:
            return self._pick_on_ring(self.ring, key, tried, pin)
        pool = self._candidates(self.replicas, tried, pin)
        if len(pool) < 2:
            return pool[0] if pool else None
        lowest = min(r.outstanding / r.weight for r in pool)
        best = [r for r in pool if r.outstanding / r.weight == lowest]
        return best[0] if len(best) == 1 else random.choice(best)

    def _pick_on_ring(
        self, ring: HashRing[Replica], key: int, tried: set[str], pin: int | None
    ) -> Replica | None:
        pool = self._candidates(ring.order(key), tried, pin)
        return ring.choose(pool, self.usable()) if pool else None

    def _candidates(
        self, order: Sequence[Replica], tried: set[str], pin: int | None
    ) -> list[Replica]:
        """Usable replicas with a free slot (only the pinned one with `pin`), in `order`: those
        not in `tried`, else the tried ones."""
        fresh: list[Replica] = []
        tried_before: list[Replica] = []
        panic = self.panic()
        for replica in order:
            if (
                (pin is None or replica.index == pin)
                and replica.has_slot()
                and replica.usable(panic)
            ):
                (tried_before if replica.url in tried else fresh).append(replica)
        return fresh or tried_before

    def _down(self, pin: int | None) -> bool:
        if pin is None:
            return self.all_down()
        panic = self.panic()
        return not any(r.index == pin and r.usable(panic) for r in self.replicas)

    async def acquire(
        self,
        model: str,
        tried: set[str],
        wait_limit: float | None,
        pin: int | None = None,
        key: int | None = None,
    ) -> Replica:
        """Take a slot on the replica `pick` chooses (routing `key`, `pin`), waiting up to
        `wait_limit` s while all are busy.

        Raises `NoHealthyUpstream` when every candidate is down, `Overloaded` when no slot
        freed in time.
        """
        replica = self.pick(tried, pin, key)
        if replica is None:
            replica = await self._wait_for_slot(model, tried, wait_limit, pin, key)
        replica.outstanding += 1
        replica.breaker.begin()
        return replica

    async def _wait_for_slot(
        self,
        model: str,
        tried: set[str],
        wait_limit: float | None,
        pin: int | None,
        key: int | None,
    ) -> Replica:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(wait_limit):
                while (replica := self.pick(tried, pin, key)) is None:
                    if self._down(pin):
                        raise NoHealthyUpstream(
                            f"No upstream of model {model!r} is available.",
                            headers=retry_after(self.retry_in()),
                        )
                    waiter = loop.create_future()
                    self._waiters.append(waiter)
                    try:
                        # Re-check now and then: a breaker may half-open without a release.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(waiter, _RECHECK)
                    finally:
                        with contextlib.suppress(ValueError):
                            self._waiters.remove(waiter)
        except TimeoutError:
            raise Overloaded(
                f"Every replica of model {model!r} is busy; try again shortly.",
                headers=retry_after(1),
            ) from None
        return replica

    def release(self, replica: Replica) -> None:
        """Give a slot back and wake one waiter, if any waits."""
        replica.outstanding -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break
