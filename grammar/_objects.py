"""The member automaton of an object: which members may follow, and when `}` may close it.

Up to ANY_ORDER_MAX named members come in any order, each at most once. Larger objects keep
every member's value exact but track only the members a rule is about (required ones, and
those a dependency names): all members come in any order, tracked ones at most once, while
an untracked one may be repeated (JSON parsers keep the last value, which matches its schema
as the first did). Past TRACKED_MAX tracked members, the required ones follow one of the
two orders the schema gives: `properties` order (all members then come in that order) or
`required` order (optional members may then come anywhere). With a minProperties above the
required count, only the first. Extra members (keys outside the named ones) may repeat and
come anywhere. A state records the tracked members written, how many, up to what
minProperties/maxProperties need, and which "some member matches" requirements a witness
has met; only states that can still close are emitted, so a model never reaches a dead end.
"""

from __future__ import annotations

from dataclasses import dataclass

from grammar._emit import Emitter, RuleName
from grammar._graph import explore

ANY_ORDER_MAX = 6
TRACKED_MAX = 4  # 2**3 states per object: larger objects must stay cheap

State = tuple[int, frozenset[int], int, frozenset[int]]  # next, seen, count, met


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
    required_order: tuple[int, ...] = ()  # required members as `required` lists them


class _Automaton:
    """mode "any": members in any order (tracked ones once); "schema": in schema order;
    "required": required members in `required` order, the others anywhere."""

    def __init__(self, shape: Shape, mode: str) -> None:
        self.shape = shape
        self.mode = mode
        required = {i for i, m in enumerate(shape.members) if m.required}
        named = required.union(*({k, *need} for k, need in shape.needs))
        self.chain = shape.required_order if mode == "required" else ()
        # what `seen` records: every member when few, else those a rule names, less the
        # required ones that a chain of positions already counts
        everything = len(shape.members) <= ANY_ORDER_MAX
        chained = required if mode != "any" else set()
        self.tracked = frozenset(range(len(shape.members)) if everything else named - chained)
        self.cap = max(shape.min_count, shape.max_count or 0, 1)

    def closes(self, state: State) -> bool:
        pos, seen, count, met = state
        s = self.shape
        if self.mode == "schema":
            done = pos == len(s.members)
        elif self.mode == "required":
            done = pos == len(self.chain)
        else:
            done = all(i in seen for i, m in enumerate(s.members) if m.required)
        present = seen | {i for i, m in enumerate(s.members) if m.required}  # once done
        deps_met = all(k not in present or need <= present for k, need in s.needs)
        return done and deps_met and count >= s.min_count and len(met) == s.requirements

    def moves(self, state: State) -> list[tuple[RuleName | None, State]]:
        """(member written, next state); None for skipping an optional member in order."""
        pos, seen, count, met = state
        s = self.shape
        if s.max_count is not None and count >= s.max_count:
            return [(None, (pos + 1, seen, count, met))] if self._skips(state) else []
        after = min(count + 1, self.cap)
        out: list[tuple[RuleName | None, State]] = []
        if self.mode == "schema":
            if pos < len(s.members):
                member = s.members[pos]
                out += _writes(member, (pos + 1, seen | {pos} & self.tracked, after, met))
            if self._skips(state):
                out.append((None, (pos + 1, seen, count, met)))
        else:
            for i, member in enumerate(s.members):
                if self._may(state, i):
                    out += _writes(member, self._after(state, i, after))
        for member in s.extras:
            out += _writes(member, (pos, seen, after, met))
        return out

    def _skips(self, state: State) -> bool:
        pos, members = state[0], self.shape.members
        return self.mode == "schema" and pos < len(members) and not members[pos].required

    def _may(self, state: State, i: int) -> bool:
        """Whether named member i may be written now (modes other than "schema")."""
        pos, seen = state[0], state[1]
        if i in self.chain:
            return pos < len(self.chain) and self.chain[pos] == i
        return i not in self.tracked or i not in seen

    def _after(self, state: State, i: int, count: int) -> State:
        pos, seen, _, met = state
        return (pos + (i in self.chain), seen | {i} & self.tracked, count, met)


def _modes(shape: Shape) -> list[str]:
    """The automata whose union the object grammar is (see the module docstring)."""
    required = [i for i, m in enumerate(shape.members) if m.required]
    named = set(required).union(*({k, *need} for k, need in shape.needs))
    if len(shape.members) <= ANY_ORDER_MAX:
        return ["any"]
    if shape.min_count > len(required):
        return ["schema"]
    if len(named) <= TRACKED_MAX:
        return ["any"]
    schema_order = tuple(required)
    return ["required"] if shape.required_order == schema_order else ["schema", "required"]


def _writes(member: Member, nxt: State) -> list[tuple[RuleName | None, State]]:
    """Writing `member` plainly, or as a witness of a requirement."""
    pos, seen, count, met = nxt
    out: list[tuple[RuleName | None, State]] = [(member.kv, nxt)]
    return out + [(kv, (pos, seen, count, met | met_now)) for kv, met_now in member.witnesses]


def object_body(shape: Shape, out: Emitter, ws: RuleName, hint: str) -> str | None:
    """GBNF for an object of this shape, or None when no object fits."""
    starts = []
    for mode in _modes(shape):
        auto = _Automaton(shape, mode)
        start: State = (0, frozenset(), 0, frozenset())
        graph, live = explore(start, auto.moves, auto.closes)
        if start not in live:
            continue
        names = {state: out.reserve(f"{hint}-o") for state in graph if state in live}
        for state, name in names.items():
            sep = f'"," {ws} ' if state[2] else ""
            alts = ['"}"'] if auto.closes(state) else []
            for kv, nxt in graph[state]:
                if nxt in live:
                    alts.append(names[nxt] if kv is None else f"{sep}{kv} {ws} {names[nxt]}")
            out.define(name, " | ".join(alts))
        starts.append(names[start])
    if not starts:
        return None
    return f'"{{" {ws} ' + (starts[0] if len(starts) == 1 else f"({' | '.join(starts)})")
