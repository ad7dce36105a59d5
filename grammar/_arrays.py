"""Item automata for arrays a plain repetition cannot express. With contains (or a negated
`items`): a state is the index reached, capped where positions stop differing, and how many
witnesses each requirement has had. With uniqueItems over a finite set of values: a state is
the set of values used. Only states that can still close are emitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from grammar._emit import Emitter, RuleName
from grammar._graph import explore

State = tuple[int, tuple[int, ...]]  # items written (capped), witnesses per requirement


@dataclass(frozen=True)
class Slot:
    """The item at one position: written plainly, or as a witness of some requirements."""

    plain: RuleName | None
    witnesses: tuple[tuple[RuleName, frozenset[int]], ...] = ()


@dataclass(frozen=True)
class Items:
    slots: tuple[Slot, ...]  # positions that differ; the last one repeats
    needs: tuple[int, ...]  # witnesses each requirement needs
    min_items: int = 0
    max_items: int | None = None


def _moves(items: Items, state: State) -> list[tuple[RuleName, State]]:
    index, counts = state
    if items.max_items is not None and index >= items.max_items:
        return []
    slot = items.slots[min(index, len(items.slots) - 1)]
    top = max(len(items.slots), items.min_items)
    nxt = index + 1 if items.max_items is not None else min(index + 1, top)
    out = [(slot.plain, (nxt, counts))] if slot.plain is not None else []
    for rule, met in slot.witnesses:
        bumped = tuple(min(c + (k in met), items.needs[k]) for k, c in enumerate(counts))
        out.append((rule, (nxt, bumped)))
    return out


def _closes(items: Items, state: State) -> bool:
    index, counts = state
    return index >= items.min_items and all(
        c >= n for c, n in zip(counts, items.needs, strict=True)
    )


def array_body(items: Items, out: Emitter, ws: RuleName, hint: str) -> str | None:
    """GBNF for an array of these items, or None when no array fits."""
    start: State = (0, (0,) * len(items.needs))
    graph, live = explore(start, lambda s: _moves(items, s), lambda s: _closes(items, s))
    if start not in live:
        return None
    names = {state: out.reserve(f"{hint}-i") for state in graph if state in live}
    for state, name in names.items():
        sep = f'"," {ws} ' if state[0] else ""
        alts = ['"]"'] if _closes(items, state) else []
        alts += [f"{sep}{rule} {ws} {names[nxt]}" for rule, nxt in graph[state] if nxt in live]
        out.define(name, " | ".join(alts))
    return f'"[" {ws} {names[start]}'


def unique_body(
    choices: list[RuleName], lo: int, hi: int | None, out: Emitter, ws: RuleName, hint: str
) -> str | None:
    """An array of distinct items, each one of `choices` (uniqueItems over a finite set)."""
    top = len(choices) if hi is None else min(hi, len(choices))

    def moves(used: frozenset[int]) -> list[tuple[int, frozenset[int]]]:
        if len(used) >= top:
            return []
        return [(i, used | {i}) for i in range(len(choices)) if i not in used]

    def closes(used: frozenset[int]) -> bool:
        return lo <= len(used) <= top

    start: frozenset[int] = frozenset()
    graph, live = explore(start, moves, closes)
    if start not in live:
        return None
    names = {state: out.reserve(f"{hint}-u") for state in graph if state in live}
    for state, name in names.items():
        sep = f'"," {ws} ' if state else ""
        alts = ['"]"'] if closes(state) else []
        alts += [f"{sep}{choices[i]} {ws} {names[nxt]}" for i, nxt in graph[state] if nxt in live]
        out.define(name, " | ".join(alts))
    return f'"[" {ws} {names[start]}'
