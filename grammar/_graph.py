"""Exploring a finite automaton given by a move function, and pruning its dead states."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from grammar import _budget

S = TypeVar("S", bound=Hashable)
L = TypeVar("L")


def explore(
    start: S, moves: Callable[[S], list[tuple[L, S]]], closes: Callable[[S], bool]
) -> tuple[dict[S, list[tuple[L, S]]], set[S]]:
    """The states reachable from `start` with their moves, and those that can still close
    (a grammar offers only these, so a model is never led into a dead end)."""
    graph: dict[S, list[tuple[L, S]]] = {}
    todo = [start]
    while todo:
        state = todo.pop()
        _budget.check()
        if state not in graph:
            graph[state] = moves(state)
            todo += [nxt for _, nxt in graph[state]]
    back: dict[S, list[S]] = {}
    for state, out in graph.items():
        for _, nxt in out:
            back.setdefault(nxt, []).append(state)
    live = {state for state in graph if closes(state)}
    pending = list(live)
    while pending:
        for prev in back.get(pending.pop(), []):
            if prev not in live:
                live.add(prev)
                pending.append(prev)
    return graph, live
