"""Pass 3: GBNF text from named rules, with llama.cpp-safe names and repetitions.

Rule names may only use `[a-zA-Z0-9-]`; identical bodies share one rule; every rule body is a
single line so no alternative starts a new top-level line. llama.cpp expands `x{m,n}` into
about n rules (and refuses n > 2000), so counts above SMALL_REPEAT are written in binary:
`x{n}` as doubling rules, `x{0,n}` as "fewer than n, compared bit by bit" (O(log n) rules).
"""

from __future__ import annotations

import re
from typing import NewType

RuleName = NewType("RuleName", str)

SMALL_REPEAT = 64
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
        """`item` repeated lo..hi times (hi None: unbounded)."""
        if hi is None:
            return {0: f"{item}*", 1: f"{item}+"}.get(lo, f"{self._exactly(item, lo)} {item}*")
        if lo == hi:
            return self._exactly(item, lo)
        if hi <= SMALL_REPEAT:
            return f"{item}{{{lo},{hi}}}"
        return f"{self._exactly(item, lo)} {self._up_to(item, hi - lo)}".strip()

    def _power(self, item: RuleName, bit: int) -> RuleName:
        """Exactly 2**bit copies of `item`."""
        if bit == 0:
            return item
        half = self._power(item, bit - 1)
        return self.rule(f"{item}-x{2**bit}", f"{half} {half}")

    def _exactly(self, item: RuleName, n: int) -> str:
        if n <= SMALL_REPEAT:
            return "" if n == 0 else item if n == 1 else f"{item}{{{n}}}"
        return " ".join(self._power(item, b) for b in reversed(range(n.bit_length())) if n >> b & 1)

    def _up_to(self, item: RuleName, n: int) -> RuleName:
        """0..n copies: the count's bits from the top either equal n's so far (tight) or, from
        a bit where n has 1 and the count 0, anything below (free)."""
        free = ""  # any count below 2**b
        tight = ""  # any count up to n's lowest b bits
        for b in range(n.bit_length()):
            power = self._power(item, b)
            if n >> b & 1:
                taken = f"{power} {tight}".strip()
                body = f"{taken} | {free}" if free else f"| {taken}"
                tight = self.rule(f"{item}-upto{n % 2 ** (b + 1)}", body)
            free = self.rule(f"{item}-below{2 ** (b + 1)}", f"{power}? {free}".strip())
        return RuleName(tight)

    def text(self) -> str:
        lines = []
        for name, body in self._bodies.items():
            if body is None:
                raise AssertionError(f"rule {name} was reserved but never defined")
            lines.append(f"{name} ::= {body}")
        return "\n".join(lines) + "\n"
