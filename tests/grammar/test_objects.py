"""Member counts and dependencies between members, in any order and in schema order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.grammar.conftest import check

DRAFT7 = "http://json-schema.org/draft-07/schema#"
SEVEN = {k: {"type": "integer"} for k in "abcdefg"}  # more than any order allows: schema order


@pytest.mark.parametrize("props", [{"a": {}, "b": {}}, SEVEN], ids=["any-order", "in-order"])
def test_member_counts(props: dict[str, Any], render: Callable[[Any], str]) -> None:
    schema = {"properties": props, "additionalProperties": {"type": "null"}}
    check(
        {**schema, "minProperties": 2, "maxProperties": 3},
        [{"a": 1, "b": 2}, {"a": 1, "x": None}, {"x": None, "y": None, "z": None}],
        [{}, {"a": 1}, {"x": None}, {"a": 1, "b": 2, "x": None, "y": None}],
        render,
    )


def test_minimum_members_of_a_map(render: Callable[[Any], str]) -> None:
    schema = {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1}
    check(schema, [{"k": "v"}, {"a": "", "b": ""}], [{}, {"k": 1}], render)


@pytest.mark.parametrize("props", [{"a": {}, "b": {}}, SEVEN], ids=["any-order", "in-order"])
def test_dependent_required(props: dict[str, Any], render: Callable[[Any], str]) -> None:
    for schema in (
        {"$schema": DRAFT7, "properties": props, "dependencies": {"a": ["b"]}},
        {"properties": props, "dependentRequired": {"a": ["b"]}},
    ):
        check(schema, [{}, {"b": 1}, {"a": 1, "b": 2}], [{"a": 1}, {"a": 1, "c": 3}], render)


def test_dependent_schemas(render: Callable[[Any], str]) -> None:
    then = {"properties": {"b": {"type": "string"}}, "required": ["b"]}
    for schema in (
        {"$schema": DRAFT7, "dependencies": {"a": then}},
        {"dependentSchemas": {"a": then}},
    ):
        check(schema, [{}, {"b": 1}, {"a": 1, "b": "x"}, 3], [{"a": 1}, {"a": 1, "b": 2}], render)


def test_negated_counts_and_dependencies(render: Callable[[Any], str]) -> None:
    check({"not": {"minProperties": 1}}, [{}], [{"a": 1}, 1], render)
    check(
        {"not": {"dependentRequired": {"a": ["b"]}}}, [{"a": 1}], [{}, {"a": 1, "b": 1}, 1], render
    )


def test_large_objects_take_members_in_any_order(render: Callable[[Any], str]) -> None:
    props = {k: {"type": "integer"} for k in "abcdefgh"}
    schema = {"properties": props, "required": ["b", "g"]}
    good = [
        {"g": 1, "b": 2},
        {"x": "extra", "h": 1, "g": 2, "a": 3, "b": 4},
        dict.fromkeys("hgfedcba", 0),
    ]
    check(schema, good, [{"b": 1}, {"g": 1, "b": "2"}, {"a": "1", "b": 1, "g": 1}], render)
    many = {"properties": props, "required": list(props)}  # more required than tracked: in order
    check(many, [dict.fromkeys("abcdefgh", 0)], [dict.fromkeys("bacdefgh", 0)], render)


def test_large_objects_with_dependencies_in_any_order(render: Callable[[Any], str]) -> None:
    props = {k: {"type": "string"} for k in "abcdefgh"}
    schema = {"properties": props, "dependentRequired": {"h": ["a"]}, "required": ["b"]}
    check(schema, [{"h": "", "b": "", "a": ""}, {"c": "", "b": ""}], [{"h": "", "b": ""}], render)
    many = {"properties": props, "required": list("abcdefg"), "dependentRequired": {"h": ["a"]}}
    check(many, [dict.fromkeys("abcdefgh", "")], [dict.fromkeys("bacdefgh", "")], render)


def test_many_required_members_in_either_order_the_schema_gives(
    render: Callable[[Any], str],
) -> None:
    props = {k: {"type": "integer"} for k in "abcdefgh"}
    schema = {"properties": props, "required": list("gfedcba")}  # h optional
    by_required = {"h": 0, **dict.fromkeys("gfedcba", 0)}  # optional members anywhere
    good = [dict.fromkeys("abcdefgh", 0), by_required, dict.fromkeys("gfedhcba", 0)]
    check(schema, good, [dict.fromkeys("bacdefg", 0), dict.fromkeys("gfedcb", 0)], render)


def test_required_members_without_properties_follow_in_required_order(
    render: Callable[[Any], str],
) -> None:
    schema = {"properties": {key: {} for key in "abcde"}, "required": list("ezcydx")}
    in_schema_order = dict.fromkeys("abcdezyx", 0)  # z, y, x: unnamed, in `required` order
    check(schema, [in_schema_order], [dict.fromkeys("abcdezy", 0)], render)


def test_five_pattern_properties(render: Callable[[Any], str]) -> None:
    patterns = {f"^{c}": {"type": "integer", "minimum": i} for i, c in enumerate("abcde")}
    schema = {"patternProperties": patterns, "additionalProperties": False}
    check(schema, [{"a": 0, "e1": 4}, {}], [{"z": 1}, {"e": 3}, {"b": "x"}], render)
