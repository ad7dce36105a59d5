"""The replicas of each model: least-outstanding selection, slots, breakers and probed health.

A `Replica` is one upstream URL serving one model (its `max_concurrency` mirrors LocalAI's
parallel slots for that model). Breakers and probed health belong to the URL (`Upstream`) and
are shared by every model it serves: a dead LocalAI is dead for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable

from .breaker import BreakerPolicy, CircuitBreaker
from .errors import NoHealthyUpstream, Overloaded, retry_after

_RECHECK = 0.5  # seconds between re-checks while waiting for a slot


class Upstream:
    """One LocalAI base URL: its breaker and the verdict of the last health probe."""

    __slots__ = ("breaker", "healthy", "url")

    def __init__(self, url: str, policy: BreakerPolicy) -> None:
        self.url = url
        self.breaker = CircuitBreaker(policy)
        self.healthy = True

    def usable(self) -> bool:
        """True when probes say it is up and its breaker lets a call through."""
        return self.healthy and self.breaker.available()


class Replica:
    """One upstream serving one model, with its weight and slot count."""

    __slots__ = ("max_concurrency", "outstanding", "upstream", "weight")

    def __init__(self, upstream: Upstream, weight: float, max_concurrency: int | None) -> None:
        self.upstream = upstream
        self.weight = weight
        self.max_concurrency = max_concurrency
        self.outstanding = 0

    @property
    def url(self) -> str:
        """The replica's base URL."""
        return self.upstream.url

    def has_slot(self) -> bool:
        """True when fewer calls are in flight than its slots."""
        return self.max_concurrency is None or self.outstanding < self.max_concurrency


class ReplicaSet:
    """The replicas of one model; picks the least loaded usable one and hands out slots."""

    def __init__(self, replicas: Iterable[Replica]) -> None:
        self.replicas = tuple(replicas)
        self._slot_freed = asyncio.Condition()
        self._waiting = 0  # requests waiting in `acquire` for a slot

    def usable(self) -> list[Replica]:
        """Replicas that are healthy and whose breaker is not open."""
        return [replica for replica in self.replicas if replica.upstream.usable()]

    def retry_in(self) -> float:
        """Seconds until the first open breaker half-opens (how long all-down lasts at least)."""
        waits = [r.upstream.breaker.retry_in() for r in self.replicas if r.upstream.healthy]
        return min(waits, default=0.0)

    def pick(self, tried: set[str]) -> Replica | None:
        """Least outstanding per weight among usable replicas with a free slot (ties random).

        Replicas in `tried` are avoided while another one is usable.
        """
        fresh: list[Replica] = []
        tried_before: list[Replica] = []
        for replica in self.replicas:
            if replica.has_slot() and replica.upstream.usable():
                (tried_before if replica.url in tried else fresh).append(replica)
        pool = fresh or tried_before
        if len(pool) < 2:
            return pool[0] if pool else None
        lowest = min(r.outstanding / r.weight for r in pool)
        best = [r for r in pool if r.outstanding / r.weight == lowest]
        return best[0] if len(best) == 1 else random.choice(best)

    def all_down(self) -> bool:
        """True when no replica is usable (probed down or breaker open)."""
        return not self.usable()

    async def acquire(self, model: str, tried: set[str], wait_limit: float | None) -> Replica:
        """Take a slot on the best replica, waiting up to `wait_limit` s while all are busy.

        Raises `NoHealthyUpstream` when every replica is down, `Overloaded` when no slot
        freed in time.
        """
        replica = self.pick(tried)
        if replica is None:
            replica = await self._wait_for_slot(model, tried, wait_limit)
        replica.outstanding += 1
        replica.upstream.breaker.begin()
        return replica

    async def _wait_for_slot(
        self, model: str, tried: set[str], wait_limit: float | None
    ) -> Replica:
        self._waiting += 1
        try:
            async with asyncio.timeout(wait_limit), self._slot_freed:
                while (replica := self.pick(tried)) is None:
                    if self.all_down():
                        wait = self.retry_in()
                        raise NoHealthyUpstream(
                            f"No upstream of model {model!r} is available.",
                            headers=retry_after(wait),
                        )
                    with contextlib.suppress(TimeoutError):
                        # Re-check now and then: a breaker may half-open without a release.
                        await asyncio.wait_for(self._slot_freed.wait(), _RECHECK)
        except TimeoutError:
            raise Overloaded(
                f"Every replica of model {model!r} is busy; try again shortly.",
                headers=retry_after(1),
            ) from None
        finally:
            self._waiting -= 1
        return replica

    async def release(self, replica: Replica) -> None:
        """Give a slot back and wake one waiter, if any waits."""
        replica.outstanding -= 1
        if self._waiting:
            async with self._slot_freed:
                self._slot_freed.notify()
