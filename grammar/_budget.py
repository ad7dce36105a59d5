"""The compile budget: a schema compiles, or is refused, within LIMIT_SECONDS.

Every pass calls `check()` where its work can grow with the schema (each keyword normalised,
each rule compiled, each automaton state built, each rule validated) and names where it is
with `at()`. Past a deadline, UnsupportedSchemaError names the budget, the keyword and the
pointer being compiled, instead of letting a pathological schema hold a request for minutes.

Two deadlines. COMPILE_SECONDS of the compiling thread's CPU time is what a schema may cost:
on an idle machine it decides alone, the same way every time. WALL_SECONDS of elapsed time
keeps the promise when the machine is busy (with four busy processes on two cores, a schema
costing 0.9 s of CPU takes twice that). A refusal for the wall clock says the server was busy,
and is not cached. Both leave room for the work between two checks (under 0.1 s of CPU on
MaskBench) and a garbage collection pass, which no check can interrupt: it is short with the
gateway's heap, but took 2.8 s in a benchmark worker holding 6 million objects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from grammar._errors import UnsupportedSchemaError

LIMIT_SECONDS = 2.0
COMPILE_SECONDS = 1.25
WALL_SECONDS = 1.75


@dataclass
class _Budget:
    cpu_deadline: float
    wall_deadline: float
    keyword: str = ""
    pointer: str = ""


_current: ContextVar[_Budget | None] = ContextVar("grammar_budget", default=None)


@contextmanager
def budget() -> Iterator[None]:
    """Run a compilation under both deadlines, counted from now."""
    deadlines = (time.thread_time() + COMPILE_SECONDS, time.perf_counter() + WALL_SECONDS)
    token = _current.set(_Budget(*deadlines))
    try:
        yield
    finally:
        _current.reset(token)


def at(keyword: str, pointer: str) -> None:
    """Record what is being compiled, then check the deadlines."""
    current = _current.get()
    if current is not None:
        current.keyword, current.pointer = keyword, pointer
        check()


def check() -> None:
    """Raise UnsupportedSchemaError once a deadline has passed (no-op without a budget)."""
    current = _current.get()
    if current is None:
        return
    if time.thread_time() > current.cpu_deadline:
        why = f"compile budget of {COMPILE_SECONDS:g} s of CPU exhausted; simplify this schema"
    elif time.perf_counter() > current.wall_deadline:
        why = f"compile budget of {WALL_SECONDS:g} s of wall clock exhausted: server busy; retry"
    else:
        return
    raise UnsupportedSchemaError(current.keyword, current.pointer, why)
