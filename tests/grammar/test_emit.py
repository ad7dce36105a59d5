"""Repetitions: exact counts, and large ones in O(log n) rules (llama.cpp expands x{m,n})."""

from __future__ import annotations

import re
import time

import pytest

import grammar
from grammar._emit import SMALL_REPEAT, Emitter
from tests.grammar.conftest import accepts


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 65), (3, 200), (70, 70), (65, 130), (1000, 2500), (0, 4097), (130, None)]
)
def test_repeat_counts_are_exact(lo: int, hi: int | None) -> None:
    out = Emitter()
    root, item = out.reserve("root"), out.rule("item", '"a"')
    out.define(root, out.repeat(item, lo, hi))
    gbnf = out.text()
    top = lo + 50 if hi is None else hi
    for n in {0, lo - 1, lo, lo + 1, (lo + top) // 2, top - 1, top, top + 1} - {-1}:
        assert accepts(gbnf, "a" * n) == (lo <= n and (hi is None or n <= hi)), n


def test_long_strings_compile_fast_to_small_grammars() -> None:
    start = time.perf_counter()
    gbnf = grammar.schema_to_gbnf({"type": "string", "minLength": 1, "maxLength": 131072})
    assert time.perf_counter() - start < 0.5
    assert len(gbnf.splitlines()) < 60
    counts = [int(n) for n in re.findall(r"\{(?:\d+,)?(\d+)\}", gbnf)]
    assert max(counts) <= SMALL_REPEAT  # llama.cpp would expand a large count into many rules
