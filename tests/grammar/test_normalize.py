"""Applicators (oneOf, not, if) on real-world shapes: exact, or refused by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.grammar.conftest import check


def test_one_of_objects_is_exclusive_within_its_type(render: Callable[[Any], str]) -> None:
    closed = {"additionalProperties": False}
    schema = {
        "type": "object",
        "oneOf": [
            {"properties": {"a": {"type": "string"}}, "required": ["a"], **closed},
            {"properties": {"b": {}, "c": {}}, "required": ["b"], **closed},
        ],
    }
    check(schema, [{"a": "x"}, {"b": 1, "c": 2}], [{}, {"a": 1}, {"a": "x", "b": 1}, 3], render)
