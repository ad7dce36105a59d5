"""One test per refusal: each names the keyword and the JSON pointer of the schema using it."""

from typing import Any

import pytest

from grammar import UnsupportedSchemaError, schema_to_gbnf

REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "uniqueItems",
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "uniqueItems",
        "",
    ),
    ("not uniqueItems", {"not": {"uniqueItems": True}}, "not", ""),
    ("maxContains", {"items": {"maxContains": 2, "contains": {}}}, "maxContains", "/items"),
    ("not minContains", {"not": {"minContains": 2, "contains": {}}}, "not", ""),
    ("unevaluatedProperties", {"unevaluatedProperties": False}, "unevaluatedProperties", ""),
    ("unevaluatedItems", {"unevaluatedItems": False}, "unevaluatedItems", ""),
    ("dynamicRef", {"$dynamicRef": "#meta"}, "$dynamicRef", ""),
    ("remote ref", {"$ref": "https://example.com/s.json"}, "$ref", ""),
    ("unknown anchor", {"items": {"$ref": "#nowhere"}}, "$ref", "/items"),
    ("dangling pointer", {"$ref": "#/$defs/missing"}, "$ref", ""),
    ("ref cycle", {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "$ref", "/$defs/a"),
    ("lookahead", {"pattern": "^a(?=b)"}, "pattern", ""),
    ("backreference", {"properties": {"p": {"pattern": "(a)\\1"}}}, "pattern", "/properties/p"),
    ("word boundary", {"pattern": "\\bword"}, "pattern", ""),
    ("bad property pattern", {"patternProperties": {"(?!x)": {}}}, "patternProperties", ""),
    ("maxItems with contains", {"maxItems": 99, "contains": {}}, "maxItems", ""),
    (
        "oneOf overlap",
        {"oneOf": [{"contains": {}, "minContains": 2}, {"type": "array"}]},
        "oneOf",
        "",
    ),
    ("multipleOf modulus", {"type": "number", "multipleOf": 12.345}, "multipleOf", ""),
    ("unknown type", {"type": "decimal"}, "type", ""),
    ("bad minLength", {"minLength": -1.5}, "minLength", ""),
    ("bad exclusiveMinimum", {"exclusiveMinimum": "1"}, "exclusiveMinimum", ""),
    ("bad dependency", {"dependentRequired": {"a": 3}}, "dependentRequired", ""),
    ("properties not an object", {"properties": ["a"]}, "properties", ""),
    ("prefixItems not an array", {"items": {"prefixItems": 5}}, "prefixItems", "/items"),
    ("unknown format", {"items": {"format": "color"}}, "format", "/items"),
    (
        "length bound too large with a format",  # Pydantic's HttpUrl
        {"properties": {"u": {"type": "string", "format": "uri", "maxLength": 2083}}},
        "maxLength",
        "/properties/u",
    ),
]


@pytest.mark.parametrize(
    ("schema", "keyword", "pointer"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refusal_names_keyword_and_pointer(
    schema: dict[str, Any], keyword: str, pointer: str
) -> None:
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf(schema)
    assert (info.value.keyword, info.value.pointer) == (keyword, pointer)
    assert isinstance(info.value, ValueError)


def test_applicators_nested_beyond_the_limit_are_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(100):
        schema = {"allOf": [schema]}
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf(schema)
    assert info.value.keyword == "allOf"
    assert info.value.pointer.startswith("/allOf/0/allOf/0")


def test_non_strict_drops_inexpressible_assertions_only() -> None:
    loose = schema_to_gbnf(
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, strict=False
    )
    assert loose == schema_to_gbnf({"type": "array", "items": {"type": "integer"}})


def test_non_strict_leaves_a_length_bound_it_cannot_combine_to_the_answer_check() -> None:
    url = {"type": "string", "format": "uri", "minLength": 1, "maxLength": 2083}
    assert schema_to_gbnf(url, strict=False) == schema_to_gbnf({"type": "string", "format": "uri"})


def test_too_many_alternatives_names_where() -> None:
    lengths = {"anyOf": [{"minLength": i} for i in range(20)]}
    prefixes = {"anyOf": [{"pattern": f"^{c}"} for c in "abcdefghijklmnopqrst"]}
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf({"properties": {"a": {"allOf": [lengths, prefixes]}}})
    assert (info.value.keyword, info.value.pointer) == ("allOf", "/properties/a")


def test_too_many_pattern_properties_are_refused() -> None:
    patterns = {f"^{c}": {} for c in "abcdefg"}
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf({"items": {"patternProperties": patterns}})
    assert (info.value.keyword, info.value.pointer) == ("patternProperties", "/items")
