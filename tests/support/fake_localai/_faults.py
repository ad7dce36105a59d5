"""Fault injection: what POST /__faults accepts and which request each fault hits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# "Stall forever" still ends: the client's disconnect cancels it, and this cap bounds it.
STALL_FOREVER = 300.0
# Routes a fault without `path` leaves alone, so background health probes cannot eat it.
_PROBES = ("/healthz", "/readyz")
_UNSET: Any = object()


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour; see the package docstring for each field's meaning."""

    path: str | None = None
    model: str | None = None
    times: int | None = 1
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    body: Any = _UNSET
    stall_before_headers: float | None = None
    stall_before_first_event: float | None = None
    stall_after_events: int | None = None
    stall_seconds: float | None = None
    cut_after_events: int | None = None
    malformed_json: bool = False
    slow_events_ms: int | None = None

    @classmethod
    def parse(cls, raw: Any) -> Fault:
        """Build a fault from JSON; raises ValueError naming any unknown or mistyped field."""
        if not isinstance(raw, dict):
            raise ValueError("a fault must be a JSON object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        for name, value in raw.items():
            _check_type(name, value, known[name].type)
        if raw.get("times") == 0:
            raise ValueError("fault field 'times' must be at least 1, or null for 'until cleared'")
        return cls(**raw)

    @property
    def has_body(self) -> bool:
        """True when `body` was given to replace the default LocalAI error body."""
        return self.body is not _UNSET

    def matches(self, route: str, model: str | None) -> bool:
        """True when this fault applies to a request for `route` naming `model`."""
        if self.path is None:
            path_ok = route not in _PROBES
        else:
            prefix = self.path.rstrip("/")
            path_ok = route == prefix or route.startswith(prefix + "/")
        return path_ok and (self.model is None or self.model == model)

    def as_json(self) -> dict[str, Any]:
        """The fields that differ from the defaults."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }


_TYPES: dict[str, tuple[type, ...]] = {
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
    "float | None": (int, float, type(None)),
    "bool": (bool,),
    "Any": (object,),
}


def _check_type(name: str, value: Any, annotation: Any) -> None:
    allowed = _TYPES[str(annotation)]
    if isinstance(value, bool) and bool not in allowed:
        raise ValueError(f"fault field {name!r} must not be a boolean")
    if not isinstance(value, allowed):
        raise ValueError(f"fault field {name!r} has the wrong type: {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise ValueError(f"fault field {name!r} must not be negative")


class FaultBook:
    """The faults waiting to hit requests, each with how many hits it has left."""

    def __init__(self) -> None:
        self._entries: list[list[Any]] = []

    def add(self, faults: list[Fault]) -> None:
        self._entries.extend([fault, fault.times] for fault in faults)

    def take(self, route: str, model: str | None) -> Fault | None:
        """The first fault matching this request, counting one hit against it."""
        for entry in self._entries:
            fault, left = entry
            if fault.matches(route, model):
                if left is not None:
                    entry[1] = left - 1
                    if entry[1] == 0:
                        self._entries.remove(entry)
                return fault
        return None

    def clear(self) -> None:
        self._entries.clear()

    def listing(self) -> list[dict[str, Any]]:
        return [{**fault.as_json(), "left": left} for fault, left in self._entries]
