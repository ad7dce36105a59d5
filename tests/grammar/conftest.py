"""Shared helpers: the offline GBNF oracle from ../shared/tools (tests only) and both renderings."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import grammar

SHARED_TOOLS = Path(__file__).resolve().parents[3] / "shared" / "tools"
sys.path.insert(0, str(SHARED_TOOLS))

import oracle  # noqa: E402

RENDERINGS: dict[str, Callable[[Any], str]] = {
    "default": json.dumps,
    "compact": lambda v: json.dumps(v, separators=(",", ":")),
}


def accepts(gbnf: str, text: str) -> bool:
    return bool(oracle.accepts(gbnf, text))


def check(
    schema: Any, good: list[Any], bad: list[Any], render: Callable[[Any], str], **options: bool
) -> None:
    """The schema's grammar accepts every `good` value and no `bad` one, rendered by `render`."""
    gbnf = grammar.schema_to_gbnf(schema, **options)
    for value in good:
        assert accepts(gbnf, render(value)), value
    for value in bad:
        assert not accepts(gbnf, render(value)), value


@pytest.fixture(params=sorted(RENDERINGS))
def render(request: pytest.FixtureRequest) -> Callable[[Any], str]:
    return RENDERINGS[request.param]
