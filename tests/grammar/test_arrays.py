"""Arrays that must contain matching items: contains, minContains, and negated items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.grammar.conftest import check


def test_contains(render: Callable[[Any], str]) -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 5}}
    check(schema, [[5], [1, 7, 2], [9, 9]], [[], [1, 2], ["x", 6], [6, "x"]], render)


def test_min_contains_with_a_tuple_and_bounds(render: Callable[[Any], str]) -> None:
    schema = {
        "prefixItems": [{"type": "string"}],
        "contains": {"type": "integer"},
        "minContains": 2,
        "maxItems": 4,
    }
    good = [["a", 1, 2], ["a", 1, True, 2], ["a", 1, 2, 3]]
    check(schema, good, [["a", 1], [1, 2, 3], ["a", 1, 2, 3, 4], [0, 1, 2]], render)


def test_negated_items_need_some_failing_item(render: Callable[[Any], str]) -> None:
    schema = {"not": {"prefixItems": [{}], "items": {"type": "string"}}}
    check(schema, [[1, 2], ["x", "y", 3]], [[], [1], ["x", "y"], 5], render)
    check({"not": {"contains": {"type": "null"}}}, [[], [1, "a"]], [[None], [1, None], 3], render)


def test_one_of_array_branches(render: Callable[[Any], str]) -> None:
    schema = {"oneOf": [{"items": {"type": "string"}}, {"contains": {"const": "x"}}]}
    check(schema, [["a"], [], [1, "x"]], [["x"], ["a", "x"]], render)


def test_one_item_can_meet_several_contains(render: Callable[[Any], str]) -> None:
    schema = {"allOf": [{"contains": {"minimum": 5}}, {"contains": {"maximum": 5}}]}
    check(schema, [[5], [9, 1], [1, 2, 7]], [[], [9], [1, 4]], render)


def test_unique_items_from_a_finite_set(render: Callable[[Any], str]) -> None:
    schema = {"type": "array", "items": {"enum": ["a", "b", 1, None]}, "uniqueItems": True}
    good = [[], ["a"], ["b", "a"], [None, 1, "a", "b"]]
    check(schema, good, [["a", "a"], [1, 1.0], ["a", "b", "a"], ["c"]], render)
    pair = {"items": {"type": "boolean"}, "uniqueItems": True, "minItems": 2}
    check(pair, [[True, False], [False, True]], [[True], [True, True], [1, 0]], render)
    check(
        {"items": {"type": "string"}, "uniqueItems": True, "maxItems": 1}, [[], ["x"]], [], render
    )
