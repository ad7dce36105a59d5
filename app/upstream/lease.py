"""What one upstream call holds while it runs, given back in one step with the call's outcome."""

from __future__ import annotations

import asyncio
import enum

from clients import UpstreamError, UpstreamStatusError

from .admission import Admission
from .replicas import Replica, ReplicaSet


class Outcome(enum.Enum):
    """What a finished call says about its replica's health."""

    SUCCESS = "success"  # the replica answered
    FAILURE = "failure"  # the replica failed: counts towards opening its breaker
    NEUTRAL = "neutral"  # proves nothing either way (the client left, a 429, a queue timeout)


def outcome_of(exc: BaseException) -> Outcome:
    """The breaker outcome of a call that raised `exc` (the request's own fault proves nothing)."""
    if isinstance(exc, UpstreamError) and exc.request_fault:
        return Outcome.NEUTRAL
    if isinstance(exc, UpstreamStatusError):
        if exc.status == 429:
            return Outcome.NEUTRAL
        return Outcome.FAILURE if exc.status >= 500 else Outcome.SUCCESS
    return Outcome.FAILURE if isinstance(exc, UpstreamError) else Outcome.NEUTRAL


class Lease:
    """Admission slots and at most one replica slot, released together by `release`."""

    __slots__ = ("_admissions", "_replica", "_replicas")

    def __init__(self) -> None:
        self._admissions: list[Admission] = []
        self._replica: Replica | None = None
        self._replicas: ReplicaSet | None = None

    def admit(self, admission: Admission) -> None:
        """Hold a slot already taken from `admission`."""
        self._admissions.append(admission)

    def hold(self, replica: Replica, replicas: ReplicaSet) -> None:
        """Hold a slot already taken on `replica` (of `replicas`)."""
        self._replica, self._replicas = replica, replicas

    def take_over(self, other: Lease) -> None:
        """Hold everything `other` holds; `other` then holds nothing."""
        self._admissions += other._admissions
        if other._replica is not None:
            self._replica, self._replicas = other._replica, other._replicas
        other._admissions, other._replica, other._replicas = [], None, None

    def confirm(self) -> None:
        """Record on the replica's breaker that it answered (a stream's first events arrived)."""
        if self._replica is not None:
            _answered(self._replica)

    def release(self, outcome: Outcome) -> None:
        """Record `outcome` on the replica's breaker and give every slot back (once)."""
        replica, replicas = self._replica, self._replicas
        self._replica = self._replicas = None
        if replica is not None and replicas is not None:
            if outcome is Outcome.SUCCESS:
                _answered(replica)
            elif outcome is Outcome.NEUTRAL:
                replica.breaker.release()
            else:
                replica.breaker.record(False)
            replicas.release(replica)
        admissions, self._admissions = self._admissions, []
        for admission in admissions:
            admission.release()


def _answered(replica: Replica) -> None:
    """The replica answered real traffic: its breaker and its upstream's probe grace know."""
    replica.breaker.record(True)
    replica.upstream.last_success = asyncio.get_running_loop().time()
