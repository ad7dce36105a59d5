"""Behaviour of compiled grammars, checked with the offline oracle over both JSON renderings."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, Literal

import pydantic
import pytest

import grammar
from tests.grammar.conftest import accepts, check


def test_const_objects_accept_any_key_order(render: Callable[[Any], str]) -> None:
    const = {"foo": "bar", "baz": [1, {"q": None}]}
    reordered = {"baz": [1, {"q": None}], "foo": "bar"}
    check({"const": const}, [const, reordered], [{"foo": "bar"}, {**const, "x": 1}], render)


def test_enum_of_any_values(render: Callable[[Any], str]) -> None:
    values = [6, "foo", [], True, {"foo": 12}, None, -2.5, "μ\n"]
    check({"enum": values}, [*values, 6.0, {"foo": 12.0}], [False, 7, "fo", [6], {}, -2.51], render)


def test_integer_bounds_are_exact(render: Callable[[Any], str]) -> None:
    schema = {"type": "integer", "minimum": -12, "exclusiveMaximum": 300}
    check(schema, [-12, 0, 7, 299, 299.0, 150], [-13, 300, 1000, 2.5, "1"], render)


def test_number_bounds_are_exact(render: Callable[[Any], str]) -> None:
    schema = {"type": "number", "exclusiveMinimum": 1.1, "maximum": 3}
    check(schema, [1.11, 2, 3, 3.0, 1.1000001], [1.1, 3.0001, 0, -2], render)


def test_typeless_keywords_constrain_only_their_type(render: Callable[[Any], str]) -> None:
    check(
        {"minLength": 2, "maximum": 5, "maxItems": 1},
        ["ab", 5, [1], {}, None, True],
        ["a", 6, [1, 2]],
        render,
    )


def test_unanchored_pattern_means_contains(render: Callable[[Any], str]) -> None:
    check(
        {"type": "string", "pattern": "\\d{2}-\\w\\s"},
        ["x12-a b", "12-_ "],
        ["12-a", "1-a "],
        render,
    )
    check({"type": "string", "pattern": "^[a-f]+$"}, ["abc"], ["abcg", ""], render)


def test_lookaheads_at_the_start(render: Callable[[Any], str]) -> None:
    java_class = {"pattern": r"^(?!org\.bukkit\.)([a-z]+\.)*[A-Za-z]+$"}
    check(java_class, ["a.B", "org.X", "orgx.bukkit.X"], ["org.bukkit.X", "a."], render)
    short_word = {"pattern": "^(?=.{1,4}$)(?!(None|True)$)[A-Za-z]+"}
    check(short_word, ["Non", "Nonx", "abc"], ["None", "True", "", "abcde", "1ab"], render)
    check({"pattern": ""}, ["", "x"], [], render)
    check({"type": "string", "pattern": "^(?!)"}, [], ["", "x"], render)


def test_formats(render: Callable[[Any], str]) -> None:
    check(
        {"type": "string", "format": "date"},
        ["2024-02-29", "1999-12-31"],
        ["2023-02-29", "1999-13-01", "99-01-01"],
        render,
    )
    check(
        {"format": "uuid"},
        ["123e4567-e89b-12d3-a456-426614174000", 5],
        ["123e4567e89b12d3a456426614174000"],
        render,
    )
    check(
        {"format": "date-time"}, ["1963-06-19T08:30:06.283185Z"], ["1963-06-19 08:30:06Z"], render
    )


def test_additional_and_pattern_properties(render: Callable[[Any], str]) -> None:
    schema = {
        "properties": {"foo": {"type": "integer"}},
        "patternProperties": {"^v": {"type": "string"}},
        "additionalProperties": {"type": "boolean"},
        "required": ["foo"],
    }
    good = [{"foo": 1}, {"x": True, "foo": 2, "vv": "s"}, {"foo": 1, "v": ""}]
    check(schema, good, [{}, {"foo": "1"}, {"foo": 1, "v": 1}, {"foo": 1, "x": 1}], render)


def test_recursive_refs(render: Callable[[Any], str]) -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["value"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    }
    deep = {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}
    check(
        tree, [deep, {"value": 0}], [{"value": 1, "children": [{}]}, {"value": 1, "x": 2}], render
    )


def test_one_of_keeps_exclusivity(render: Callable[[Any], str]) -> None:
    check({"oneOf": [{"type": "integer"}, {"minimum": 2}]}, [1, 2.5, "x"], [3, 2], render)


def test_conditions_on_a_discriminator_stay_few_alternatives(render: Callable[[Any], str]) -> None:
    # 2**9 products of (if and then) or (not if), all but 11 requiring two values of "kind"
    value_types = dict(zip("abcdefghi", ["string", "integer"] * 5, strict=False))
    chain = [
        {"if": {"properties": {"kind": {"const": k}}}, "then": {"properties": {"v": {"type": t}}}}
        for k, t in value_types.items()
    ]
    good = [{"kind": "a", "v": "x"}, {"kind": "b", "v": 1}, {"kind": "z", "v": []}, {}]
    check({"type": "object", "allOf": chain}, good, [{"kind": "a", "v": 1}, {"v": 1}], render)


def test_unsatisfiable_schema_accepts_nothing(render: Callable[[Any], str]) -> None:
    check(False, [], [None, 0, "", [], {}], render)
    check({"allOf": [{"type": "string"}, {"type": "integer"}]}, [], ["a", 1], render)


def test_whitespace_is_bounded() -> None:
    gbnf = grammar.schema_to_gbnf({"type": "object"})
    assert accepts(gbnf, '{"a":\n' + " " * 40 + "1}")
    assert not accepts(gbnf, '{"a":\n' + " " * 41 + "1}")
    assert not accepts(gbnf, '{"a":  1}')
    assert not accepts(gbnf, ' {"a": 1}') and not accepts(gbnf, '{"a": 1} ')
    nested = {"a": [{"b": [1, {"c": None}]}], "d": "x"}
    assert accepts(gbnf, json.dumps(nested, indent=2))


def test_rule_names_follow_llama_cpp_rules() -> None:
    schema = {
        "properties": {
            "my_field": {"type": "string"},
            "ü ñ/~": {"type": "integer"},
            "": {"type": "null"},
            "root": {"type": "boolean"},
        }
    }
    gbnf = grammar.schema_to_gbnf(schema)
    names = [line.split(" ::= ")[0] for line in gbnf.splitlines()]
    assert names[0] == "root"
    assert all(re.fullmatch(r"[a-zA-Z0-9-]+", n) for n in names)
    assert len(names) == len(set(names))
    assert accepts(gbnf, json.dumps({"my_field": "x", "ü ñ/~": 1, "": None, "root": True}))


def test_large_repetitions_stay_within_llama_cpp_limits() -> None:
    gbnf = grammar.schema_to_gbnf({"type": "string", "minLength": 2500, "maxLength": 6000})
    counts = [int(n) for n in re.findall(r"\{(?:\d+,)?(\d+)\}", gbnf)]
    assert counts and max(counts) <= 2000
    assert accepts(gbnf, json.dumps("x" * 2500)) and accepts(gbnf, json.dumps("y" * 6000))
    assert not accepts(gbnf, json.dumps("x" * 2499)) and not accepts(gbnf, json.dumps("x" * 6001))


def test_deep_schema_has_no_recursion_error() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(1000):
        schema = {"type": "object", "properties": {"a": {"type": "array", "items": schema}}}
    grammar.validate_gbnf(grammar.schema_to_gbnf(schema))


def test_cached_entry_point_reuses_results() -> None:
    text = '{"type": "object", "properties": {"b": {"type": "string"}, "a": {}}}'
    first = grammar.schema_to_gbnf_cached(text)
    assert grammar.schema_to_gbnf_cached(text) is first
    assert grammar.schema_to_gbnf_cached(json.dumps(json.loads(text), indent=4)) is first
    assert first == grammar.schema_to_gbnf(json.loads(text))


def test_json_object_grammar() -> None:
    gbnf = grammar.JSON_OBJECT_GBNF
    assert gbnf == grammar.json_object_gbnf()
    assert accepts(gbnf, '{"a": [1, {"b": null}], "c": "\\u00e9"}') and accepts(gbnf, "{}")
    assert not accepts(gbnf, "[]") and not accepts(gbnf, "1")


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Item(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1, max_length=20)
    count: int = pydantic.Field(ge=0, le=99)
    color: Color


class Order(pydantic.BaseModel):
    id: str
    items: list[Item]
    note: str | None = None
    kind: Literal["a", "b"]
    placed: datetime.datetime


def test_pydantic_models_round_trip(render: Callable[[Any], str]) -> None:
    gbnf = grammar.model_to_gbnf(Order)
    order = Order(
        id="o1",
        items=[Item(name="x", count=3, color=Color.RED)],
        kind="b",
        placed=datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
    )
    assert accepts(gbnf, render(order.model_dump(mode="json")))
    assert accepts(gbnf, order.model_dump_json())
    bad = order.model_dump(mode="json") | {"kind": "c"}
    assert not accepts(gbnf, render(bad))


@pytest.mark.parametrize(
    "schema", [{"type": "string", "pattern": "(a|b)*c"}, {"const": "ünï\u0000"}]
)
def test_grammars_always_validate(schema: dict[str, Any]) -> None:
    grammar.validate_gbnf(grammar.schema_to_gbnf(schema))


def test_multiple_of_with_bounds_fractions_and_negation(render: Callable[[Any], str]) -> None:
    money = {"type": "number", "multipleOf": 0.01, "minimum": -5, "exclusiveMaximum": 100}
    check(money, [0, 1.5, 99.99, -5, 12.3, 7.10], [100, 0.001, -5.01, 1.234, "1"], render)
    keys = {"type": "integer", "minimum": 1000, "multipleOf": 256}
    check(keys, [1024, 2048], [256, 1000], render)
    check({"multipleOf": 0.25, "maximum": 1}, [0.75, -2.5, 1], [0.3, 1.25], render)
    check({"not": {"multipleOf": 3}}, [1, 2.5, -7], [0, 3, -6, 9.0, "x"], render)
    # quotients beyond Decimal's precision raised DivisionImpossible
    check({"enum": [1e308, 0.5, 0.00011], "multipleOf": 0.0001}, [1e308, 0.5], [0.00011], render)
