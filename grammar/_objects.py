"""The member automaton of an object: which members may follow, and when `}` may close it.

Named members appear at most once; up to ANY_ORDER_MAX of them in any order, more in schema
order. Extra members (keys outside the named ones) may repeat. A state records the members
written so far (for ordered objects only those a dependency mentions), how many, up to the
largest count `minProperties`/`maxProperties` needs, and which "some member matches"
requirements a witness member has met; only states that can still close are emitted, so a
model is never led into a dead end.
"""

from __future__ import annotations

from dataclasses import dataclass

from grammar._emit import Emitter, RuleName
from grammar._graph import explore

ANY_ORDER_MAX = 6

State = tuple[int, frozenset[int], int, frozenset[int]]  # next (ordered), seen, count, met


@dataclass(frozen=True)
class Member:
    kv: RuleName
    required: bool = False
    witnesses: tuple[tuple[RuleName, frozenset[int]], ...] = ()  # also meeting requirements


@dataclass(frozen=True)
class Shape:
    members: tuple[Member, ...]  # named, in schema order
    extras: tuple[Member, ...] = ()
    min_count: int = 0
    max_count: int | None = None
    needs: tuple[tuple[int, frozenset[int]], ...] = ()  # member -> members it requires
    requirements: int = 0


class _Automaton:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.any_order = len(shape.members) <= ANY_ORDER_MAX
        self.tracked = frozenset(i for k, need in shape.needs for i in (k, *need))
        self.cap = max(shape.min_count, shape.max_count or 0, 1)

    def closes(self, state: State) -> bool:
        pos, seen, count, met = state
        s = self.shape
        if self.any_order:
            done = all(i in seen for i, m in enumerate(s.members) if m.required)
        else:
            done = pos == len(s.members)
        deps_met = all(k not in seen or need <= seen for k, need in s.needs)
        return done and deps_met and count >= s.min_count and len(met) == s.requirements

    def moves(self, state: State) -> list[tuple[RuleName | None, State]]:
        """(member written, next state); None for skipping an optional member in order."""
        pos, seen, count, met = state
        s = self.shape
        out: list[tuple[RuleName | None, State]] = []
        more = s.max_count is None or count < s.max_count
        after = min(count + 1, self.cap)
        if self.any_order:
            for i, member in enumerate(s.members):
                if more and i not in seen:
                    out += _writes(member, (0, seen | {i}, after, met))
        elif pos < len(s.members):
            member = s.members[pos]
            mark = seen | {pos} if pos in self.tracked else seen
            if more:
                out += _writes(member, (pos + 1, mark, after, met))
            if not member.required:
                out.append((None, (pos + 1, seen, count, met)))
        if more and (self.any_order or pos == len(s.members)):
            for member in s.extras:
                out += _writes(member, (pos, seen, after, met))
        return out


def _writes(member: Member, nxt: State) -> list[tuple[RuleName | None, State]]:
    """Writing `member` plainly, or as a witness of a requirement."""
    pos, seen, count, met = nxt
    out: list[tuple[RuleName | None, State]] = [(member.kv, nxt)]
    return out + [(kv, (pos, seen, count, met | met_now)) for kv, met_now in member.witnesses]


def object_body(shape: Shape, out: Emitter, ws: RuleName, hint: str) -> str | None:
    """GBNF for an object of this shape, or None when no object fits."""
    auto = _Automaton(shape)
    start: State = (0, frozenset(), 0, frozenset())
    graph, live = explore(start, auto.moves, auto.closes)
    if start not in live:
        return None
    names = {state: out.reserve(f"{hint}-o") for state in graph if state in live}
    for state, name in names.items():
        sep = f'"," {ws} ' if state[2] else ""
        alts = ['"}"'] if auto.closes(state) else []
        for kv, nxt in graph[state]:
            if nxt in live:
                alts.append(names[nxt] if kv is None else f"{sep}{kv} {ws} {names[nxt]}")
        out.define(name, " | ".join(alts))
    return f'"{{" {ws} {names[start]}'
