"""Deterministic automata over code points: minimising them and combining them.

A Dfa is minimal whenever it leaves this module (state 0 is the start, no dead state), which
lets `complement` skip minimisation; `intersect` is the product construction; `words`
builds a minimal trie directly. Past MAX_DFA_STATES a combination raises RegexError.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from grammar import _budget
from grammar import _charset as cs
from grammar._charset import CharSet

MAX_DFA_STATES = 3_000


class RegexError(Exception):
    """A pattern this module cannot turn into an exact automaton."""


@dataclass(frozen=True)
class Dfa:
    """State 0 is the start; `moves[s]` maps disjoint code point sets to next states."""

    moves: tuple[tuple[tuple[CharSet, int], ...], ...]
    accept: tuple[bool, ...]

    def matches(self, text: str) -> bool:
        state = 0
        for ch in text:
            cp = ord(ch)
            state = next((t for s, t in self.moves[state] if cs.contains(s, cp)), -1)
            if state < 0:
                return False
        return self.accept[state]

    def live(self) -> list[bool]:
        """States from which an accepting state is reachable (reverse breadth-first search)."""
        back: list[list[int]] = [[] for _ in self.moves]
        for s, moves in enumerate(self.moves):
            for _, t in moves:
                back[t].append(s)
        live = list(self.accept)
        todo = [s for s, a in enumerate(self.accept) if a]
        while todo:
            for s in back[todo.pop()]:
                if not live[s]:
                    live[s] = True
                    todo.append(s)
        return live

    def is_empty(self) -> bool:
        return not self.live()[0]

    def longest(self) -> int | None:
        """The length of the longest accepted string; None when unbounded (or none)."""
        longest: dict[int, int | None] = {}
        for state in self._post_order():
            targets = [t for _, t in self.moves[state]]
            if any(t not in longest for t in targets):  # a cycle back to an open state
                return None
            best = max((n for t in targets if (n := longest[t]) is not None), default=None)
            longest[state] = best + 1 if best is not None else 0 if self.accept[state] else None
        return longest.get(0)

    def _post_order(self) -> list[int]:
        """States reachable from the start, each after every state it moves to (if acyclic)."""
        order: list[int] = []
        seen = {0}
        stack = [(0, iter(self.moves[0]))]
        while stack:
            state, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                order.append(state)
                stack.pop()
            elif nxt[1] not in seen:
                seen.add(nxt[1])
                stack.append((nxt[1], iter(self.moves[nxt[1]])))
        return order


def _atom_rows(dfa: Dfa, live: list[bool]) -> tuple[list[int], list[list[int]]]:
    """Cut the alphabet into atoms no move splits; per state, the live target of each atom
    (-1 for none). Returns the atoms' lower bounds and the rows."""
    bounds = sorted(
        {b for moves in dfa.moves for chars, _ in moves for lo, hi in chars for b in (lo, hi + 1)}
    )
    rows = []
    for moves in dfa.moves:
        row = [-1] * len(bounds)
        for chars, t in moves:
            if live[t]:
                for lo, hi in chars:
                    i = bisect.bisect_left(bounds, lo)
                    while bounds[i] <= hi:
                        row[i] = t
                        i += 1
        rows.append(row)
    return bounds, rows


def _hopcroft(
    states: list[int], rows: list[list[int]], atoms: list[int], accept: tuple[bool, ...]
) -> dict[int, int]:
    """The class of each state in the coarsest partition compatible with the moves; -1 in a
    row is the (implicit) dead state."""
    inverse: list[dict[int, list[int]]] = [{} for _ in atoms]
    for s in states:
        for k, i in enumerate(atoms):
            inverse[k].setdefault(rows[s][i], []).append(s)
    blocks = [
        b for b in ({s for s in states if accept[s]}, {s for s in states if not accept[s]}) if b
    ]
    block_of = {s: b for b, members in enumerate(blocks) for s in members}
    work = {(b, k) for b in range(len(blocks)) for k in range(len(atoms))}
    while work:
        _budget.check()
        b, k = work.pop()
        touched: dict[int, set[int]] = {}
        for t in list(blocks[b]):
            for s in inverse[k].get(t, ()):
                touched.setdefault(block_of[s], set()).add(s)
        for y, part in touched.items():
            if len(part) == len(blocks[y]):
                continue
            blocks[y] -= part
            new = len(blocks)
            blocks.append(part)
            for s in part:
                block_of[s] = new
            small = new if len(part) <= len(blocks[y]) else y
            for j in range(len(atoms)):
                work.add((new, j) if (y, j) in work else (small, j))
    return block_of


def minimize(dfa: Dfa) -> Dfa:
    """Drop dead states, then merge equivalent ones (Hopcroft's partition refinement, over
    the atoms of the alphabet that some state tells apart)."""
    live = dfa.live()
    if not live[0]:
        return Dfa(((),), (False,))
    bounds, rows = _atom_rows(dfa, live)
    states = [s for s in range(len(dfa.moves)) if live[s]]
    distinct = list({tuple(rows[s][i] for s in states): i for i in range(len(bounds) - 1)}.values())
    cls = _hopcroft(states, rows, distinct, dfa.accept)
    order = {cls[0]: 0}
    for s in states:
        order.setdefault(cls[s], len(order))
    moves_out: list[tuple[tuple[CharSet, int], ...]] = [()] * len(order)
    accept_out = [False] * len(order)
    for s in states:
        merged: dict[int, list[tuple[int, int]]] = {}
        for i, t in enumerate(rows[s]):
            if t >= 0:
                merged.setdefault(order[cls[t]], []).append((bounds[i], bounds[i + 1] - 1))
        moves_out[order[cls[s]]] = tuple((cs.normalize(r), t) for t, r in sorted(merged.items()))
        accept_out[order[cls[s]]] = dfa.accept[s]
    return Dfa(tuple(moves_out), tuple(accept_out))


def literal(text: str) -> Dfa:
    """Exactly the string `text`."""
    moves = (*tuple(((((ord(c), ord(c)),), i + 1),) for i, c in enumerate(text)), ())
    return Dfa(moves, tuple(i == len(text) for i in range(len(text) + 1)))


def length(lo: int, hi: int | None) -> Dfa:
    """Strings of `lo` to `hi` code points (unbounded when hi is None)."""
    top = hi if hi is not None else lo
    if top >= MAX_DFA_STATES:
        raise RegexError("length bound too large to combine with a pattern")
    moves = [(((cs.ANY, i + 1),) if i < top else ()) for i in range(top + 1)]
    if hi is None:
        moves[top] = ((cs.ANY, top),)
    return Dfa(tuple(moves), tuple(i >= lo for i in range(top + 1)))


def complement(dfa: Dfa) -> Dfa:
    """Every string `dfa` rejects. Every automaton here is minimal, and so is its completion
    (one sink added) with acceptance flipped, once the state accepting everything, now dead,
    is dropped; so no minimisation is needed."""
    if dfa.is_empty():
        return Dfa((((cs.ANY, 0),),), (True,))
    sink = len(dfa.moves)
    moves = []
    for out in dfa.moves:
        rest = cs.complement(cs.union(*(c for c, _ in out)))
        moves.append(out + (((rest, sink),) if rest else ()))
    moves.append(((cs.ANY, sink),))
    return _drop_dead(Dfa(tuple(moves), (*(not a for a in dfa.accept), True)))


def _drop_dead(dfa: Dfa) -> Dfa:
    """The same automaton with only the states that are reachable and can still accept."""
    live = dfa.live()
    if not live[0]:
        return Dfa(((),), (False,))
    index = {0: 0}
    todo = [0]
    for s in todo:
        for _, t in dfa.moves[s]:
            if live[t] and t not in index:
                index[t] = len(index)
                todo.append(t)
    moves = tuple(tuple((c, index[t]) for c, t in dfa.moves[s] if live[t]) for s in todo)
    return Dfa(moves, tuple(dfa.accept[s] for s in todo))


K = TypeVar("K", bound=Hashable)


class StateNumbers(Generic[K]):
    """The states of an automaton being built, numbered as they are found: iterate `todo` while
    numbering; past MAX_DFA_STATES states, RegexError says `refusal`."""

    def __init__(self, start: K, refusal: str) -> None:
        self.keys = {start: 0}
        self.todo = [start]
        self.refusal = refusal

    def number(self, state: K) -> int:
        """`state`'s number, given (and `state` queued) when it is new."""
        found = self.keys.get(state)
        if found is None:
            if len(self.keys) >= MAX_DFA_STATES:
                raise RegexError(self.refusal)
            found = self.keys[state] = len(self.keys)
            self.todo.append(state)
        return found


def intersect(dfas: list[Dfa]) -> Dfa:
    """Strings every automaton accepts (product construction)."""
    if len(dfas) == 1:
        return dfas[0]
    states = StateNumbers((0,) * len(dfas), "combined patterns need too many automaton states")
    moves: list[tuple[tuple[CharSet, int], ...]] = []
    for key in states.todo:
        _budget.check()
        current: list[tuple[CharSet, tuple[int, ...]]] = [(cs.ANY, ())]
        for d, s in zip(dfas, key, strict=True):
            nxt = []
            for chars, partial in current:
                for dchars, t in d.moves[s]:
                    both = cs.intersect(chars, dchars)
                    if both:
                        nxt.append((both, (*partial, t)))
            current = nxt
        moves.append(tuple((chars, states.number(target)) for chars, target in current))
    accept = tuple(all(d.accept[s] for d, s in zip(dfas, k, strict=True)) for k in states.todo)
    return minimize(Dfa(tuple(moves), accept))


def words(texts: list[str]) -> Dfa:
    """Exactly the given strings (a trie)."""
    moves: list[dict[int, int]] = [{}]
    accept = [False]
    for text in texts:
        state = 0
        for ch in text:
            cp = ord(ch)
            if cp not in moves[state]:
                moves[state][cp] = len(moves)
                moves.append({})
                accept.append(False)
            state = moves[state][cp]
        accept[state] = True
    # A trie is acyclic and children come after their parents: merging states with equal
    # signatures from the last one back gives the minimal automaton without refinement.
    canon: dict[tuple[bool, tuple[tuple[int, int], ...]], int] = {}
    ids = [0] * len(moves)
    for s in reversed(range(len(moves))):
        sig = (accept[s], tuple((cp, ids[t]) for cp, t in sorted(moves[s].items())))
        ids[s] = canon.setdefault(sig, len(canon))
    order = {ids[0]: 0}
    for old in sorted(canon.values(), reverse=True):
        order.setdefault(old, len(order))
    table: list[tuple[tuple[tuple[CharSet, int], ...], bool]] = [((), False)] * len(canon)
    for (final, out), old in canon.items():
        table[order[old]] = (tuple((((cp, cp),), order[t]) for cp, t in out), final)
    return Dfa(tuple(m for m, _ in table), tuple(a for _, a in table))


def union(dfas: list[Dfa]) -> Dfa:
    """Strings any automaton accepts."""
    return complement(intersect([complement(d) for d in dfas]))
