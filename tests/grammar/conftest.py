"""Shared helpers: the offline GBNF oracle from ../shared/tools (tests only) and both renderings."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SHARED_TOOLS = Path(__file__).resolve().parents[3] / "shared" / "tools"
sys.path.insert(0, str(SHARED_TOOLS))

import oracle  # noqa: E402

RENDERINGS: dict[str, Callable[[Any], str]] = {
    "default": json.dumps,
    "compact": lambda v: json.dumps(v, separators=(",", ":")),
}


def accepts(gbnf: str, text: str) -> bool:
    return bool(oracle.accepts(gbnf, text))


@pytest.fixture(params=sorted(RENDERINGS))
def render(request: pytest.FixtureRequest) -> Callable[[Any], str]:
    return RENDERINGS[request.param]
