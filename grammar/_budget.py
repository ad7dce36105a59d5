"""The compile budget: a schema compiles, or is refused, within LIMIT_SECONDS of CPU.

Every pass calls `check()` where its work can grow with the schema (each keyword normalised,
each rule compiled, each automaton state built, each rule validated) and names where it is
with `at()`. Past the deadline, UnsupportedSchemaError names the budget, the keyword and the
pointer being compiled, instead of letting a pathological schema hold a request for minutes.
The clock is the compiling thread's CPU time, so whether a schema fits does not depend on
how loaded the machine is or on what other threads do. The promise is an answer within
LIMIT_SECONDS of CPU; the deadline leaves room for the work between two checks (under 0.1 s
on MaskBench) and for a long-lived process being slower than a fresh one (garbage collection
over a larger heap): after 1,000 MaskBench schemas in one process, one answer came 0.6 s past
a 1.5 s deadline, and a schema that compiles in 1.0 s alone took 2.1 s.
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


@dataclass
class _Budget:
    seconds: float
    deadline: float
    keyword: str = ""
    pointer: str = ""


_current: ContextVar[_Budget | None] = ContextVar("grammar_budget", default=None)


@contextmanager
def budget(seconds: float | None = None) -> Iterator[None]:
    """Run a compilation under a deadline `seconds` (COMPILE_SECONDS) from now."""
    seconds = COMPILE_SECONDS if seconds is None else seconds
    token = _current.set(_Budget(seconds, time.thread_time() + seconds))
    try:
        yield
    finally:
        _current.reset(token)


def at(keyword: str, pointer: str) -> None:
    """Record what is being compiled, then check the deadline."""
    current = _current.get()
    if current is not None:
        current.keyword, current.pointer = keyword, pointer
        check()


def check() -> None:
    """Raise UnsupportedSchemaError once the deadline has passed (no-op without a budget)."""
    current = _current.get()
    if current is not None and time.thread_time() > current.deadline:
        raise UnsupportedSchemaError(
            current.keyword,
            current.pointer,
            f"compile budget of {current.seconds:g} s exhausted; simplify this schema",
        )
