"""Typed, immutable configuration for the LocalAI client: timeouts and pool limits."""

from __future__ import annotations

import dataclasses
import enum


class _Unset(enum.Enum):
    """Marks a field that was not given, as distinct from `None` ("off")."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET


@dataclasses.dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds allowed for each phase of an upstream call; `None` turns a limit off.

    connect: opening the TCP connection. first_token: from sending the request to the response
    headers and, for streams, the first event. idle: the longest silence between stream events
    (or body bytes). total: the whole call, streams included.
    """

    connect: float | None = 5.0
    first_token: float | None = 120.0
    idle: float | None = 60.0
    total: float | None = 600.0

    def merge(
        self,
        *,
        connect: float | _Unset | None = UNSET,
        first_token: float | _Unset | None = UNSET,
        idle: float | _Unset | None = UNSET,
        total: float | _Unset | None = UNSET,
    ) -> Timeouts:
        """Return a copy with the given fields replaced; UNSET fields are inherited."""
        given = {"connect": connect, "first_token": first_token, "idle": idle, "total": total}
        changes = {name: value for name, value in given.items() if value is not UNSET}
        return dataclasses.replace(self, **changes) if changes else self


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolLimits:
    """Connection pool bounds shared by every upstream of the process."""

    max_connections: int = 512
    max_connections_per_host: int = 0  # 0: only max_connections applies
    keepalive_expiry: float = 60.0


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_LIMITS = PoolLimits()
