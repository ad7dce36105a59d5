"""Pass 3: GBNF text from named rules, with llama.cpp-safe names and repetitions.

Rule names may only use `[a-zA-Z0-9-]`; identical bodies share one rule; `{m,n}` never exceeds
llama.cpp's limit of 2000 (larger counts are split into chunk rules), and every rule body is a
single line so no alternative starts a new top-level line.
"""

from __future__ import annotations

import re
from typing import NewType

RuleName = NewType("RuleName", str)

MAX_REPEAT = 2000
_CHUNK = 1000
_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")
NEVER_BODY = r"[^\x00-\U0010FFFF]"


def sanitize(hint: str) -> str:
    """A valid GBNF rule name made from `hint` (dashes for anything else)."""
    name = _UNSAFE.sub("-", hint).strip("-")[:40].strip("-")
    return name or "r"


class Emitter:
    """Collects rules; `text()` renders them with `root` first."""

    def __init__(self) -> None:
        self._bodies: dict[RuleName, str | None] = {}
        self._by_body: dict[str, RuleName] = {}
        self._counts: dict[str, int] = {}

    def reserve(self, hint: str) -> RuleName:
        base = sanitize(hint)
        name, n = base, self._counts.get(base, 1)
        while name in self._bodies:
            n += 1
            name = f"{base}-{n}"
        self._counts[base] = n
        rule = RuleName(name)
        self._bodies[rule] = None
        return rule

    def define(self, name: RuleName, body: str) -> None:
        self._bodies[name] = body
        self._by_body.setdefault(body, name)

    def rule(self, hint: str, body: str) -> RuleName:
        """A rule with this body: an existing one if any, else a new one named after `hint`."""
        found = self._by_body.get(body)
        if found is not None:
            return found
        name = self.reserve(hint)
        self.define(name, body)
        return name

    def repeat(self, item: RuleName, lo: int, hi: int | None) -> str:
        """`item` repeated lo..hi times (hi None: unbounded), within llama.cpp's limits."""
        if hi is not None and hi <= MAX_REPEAT:
            return (
                item if lo == hi == 1 else f"{item}{{{lo}}}" if lo == hi else f"{item}{{{lo},{hi}}}"
            )
        if hi is None and lo <= MAX_REPEAT:
            return {0: f"{item}*", 1: f"{item}+"}.get(lo, f"{item}{{{lo},}}")
        head = self._exactly(item, lo)
        if hi is None:
            return f"{head} {item}*"
        return f"{head} {self._up_to(item, hi - lo)}".strip()

    def _exactly(self, item: RuleName, n: int) -> str:
        if n <= MAX_REPEAT:
            return f"{item}{{{n}}}" if n else ""
        chunk = self.rule(f"{item}-x{_CHUNK}", f"{item}{{{_CHUNK}}}")
        return f"{chunk}{{{n // _CHUNK}}} {self._exactly(item, n % _CHUNK)}".strip()

    def _up_to(self, item: RuleName, n: int) -> str:
        if n <= MAX_REPEAT:
            return f"{item}{{0,{n}}}"
        chunk = self.rule(f"{item}-x{_CHUNK}", f"{item}{{{_CHUNK}}}")
        rest = self._up_to(item, n - _CHUNK)
        return self.rule(f"{item}-upto{n}", f"{chunk} {rest} | {item}{{0,{_CHUNK - 1}}}")

    def text(self) -> str:
        lines = []
        for name, body in self._bodies.items():
            if body is None:
                raise AssertionError(f"rule {name} was reserved but never defined")
            lines.append(f"{name} ::= {body}")
        return "\n".join(lines) + "\n"
