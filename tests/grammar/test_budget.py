"""Every schema compiles or is refused within the compile budget, which the error names."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from grammar import UnsupportedSchemaError, _budget, schema_to_gbnf
from tests.grammar.conftest import check

# 40 distinct patterns, each needing a 1024-state automaton: several seconds of work.
SLOW = {
    "properties": {
        f"p{i}": {"type": "string", "pattern": f"^{'x' * i}(a|b)*a(a|b){{9}}$"} for i in range(40)
    }
}


def test_slow_schema_is_refused_within_the_budget() -> None:
    start = time.perf_counter()
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf(SLOW)
    assert time.perf_counter() - start < _budget.LIMIT_SECONDS
    assert "compile budget" in info.value.reason
    assert info.value.pointer.startswith("/properties/p")


def test_budget_names_where_it_ran_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_budget, "COMPILE_SECONDS", 0.0)
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf({"properties": {"a": {"type": "integer"}}})
    assert (info.value.keyword, info.value.pointer) == ("properties", "")
    assert "compile budget of 0 s" in str(info.value)


def test_a_busy_machine_meets_the_wall_clock_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_budget, "WALL_SECONDS", 0.0)
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf({"properties": {"a": {"type": "integer"}}})
    assert "wall clock" in info.value.reason


def test_no_budget_outside_a_compilation() -> None:
    _budget.check()


def test_large_enums_compile_in_linear_time(render: Callable[[Any], str]) -> None:
    values: list[Any] = [f"v{i}" for i in range(5000)] + [1, 1.0, {"a": [2]}, {"a": [2.0]}]
    start = time.thread_time()
    schema_to_gbnf({"enum": values})
    assert time.thread_time() - start < 1.0  # pairwise comparison took about 10 s
    check({"enum": values[-8:]}, [1, 1.0, {"a": [2]}, "v4999"], [2, {"a": [3]}, "v0"], render)
