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


def test_not_of_member_schemas_needs_some_member(render: Callable[[Any], str]) -> None:
    closed = {"properties": {"a": {}}, "additionalProperties": False}
    check({"not": closed}, [{"b": 1}, {"a": 1, "c": 2}], [{}, {"a": 1}, 3], render)
    typed = {"patternProperties": {"^x": {"type": "integer"}}}
    check({"not": typed}, [{"x1": "s"}, {"y": 1, "xa": None}], [{}, {"x": 1}, {"y": "s"}], render)
    short = {"propertyNames": {"maxLength": 2}}
    check({"not": short}, [{"abc": 1}, {"a": 1, "bcd": 2}], [{}, {"ab": 1}, "abc"], render)


def test_one_of_with_a_closed_branch(render: Callable[[Any], str]) -> None:
    schema = {
        "type": "object",
        "oneOf": [
            {"properties": {"a": {}}, "additionalProperties": False},
            {"required": ["b"]},
        ],
    }
    check(schema, [{"a": 1}, {}, {"b": 1}, {"a": 1, "b": 2}], [{"c": 1}], render)


def test_one_member_can_meet_several_some_member_rules(render: Callable[[Any], str]) -> None:
    def names_outside(*names: str) -> dict[str, Any]:
        return {"propertyNames": {"not": {"enum": list(names)}}}

    schema = {"not": {"anyOf": [names_outside("1", "3"), names_outside("2", "3")]}}
    check(schema, [{"3": 0}, {"1": 0, "2": 0}, {"2": 0, "x": 0, "1": 0}], [{}, {"1": 0}], render)


def test_four_some_member_rules(render: Callable[[Any], str]) -> None:
    some_key_has = [{"not": {"propertyNames": {"not": {"pattern": c}}}} for c in "abcd"]
    schema = {"allOf": some_key_has, "propertyNames": {"pattern": "^..$"}, "maxProperties": 2}
    good = [{"ab": 1, "cd": 2}, {"db": 0, "ac": 0}]
    check(schema, good, [{"ab": 1, "cc": 2}, {"ab": 1}, {"abcd": 0}], render)


def test_negated_array_and_object_values(render: Callable[[Any], str]) -> None:
    value = {"a": [1, {"b": None}]}
    good = [{"a": [1]}, {"a": [1, {"b": None}], "c": 0}, {}, {"a": [2, {"b": None}]}, 3, [1]]
    bad = [value, {"a": [1.0, {"b": None}]}]
    check({"not": {"const": value}}, good, bad, render)
    check({"not": {"enum": [[], {}]}}, [[1], {"a": 1}, 0, "x"], [[], {}], render)
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#"}  # which has no const
    check({**draft4, "not": {"enum": [["x"]]}}, [["y"], []], [["x"]], render)


def test_one_of_with_recursive_branches(render: Callable[[Any], str]) -> None:
    # telling the branches apart needs the normal form of `node`, still being computed
    wrap = {"type": "object", "required": ["child"], "additionalProperties": False}
    node = {
        "oneOf": [
            {**wrap, "properties": {"child": {"$ref": "#/$defs/node"}}},
            {**wrap, "properties": {"child": {"type": "integer"}}},
        ]
    }
    schema = {"$defs": {"node": node}, "$ref": "#/$defs/node"}
    good = [{"child": 1}, {"child": {"child": 2}}]
    check(schema, good, [{}, {"child": "x"}, {"child": {"child": {}}}], render)
