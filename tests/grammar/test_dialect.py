"""Draft-04/06/07 documents keep their draft's meaning (`$schema` names the draft)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grammar
from tests.grammar.conftest import check

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT6 = "http://json-schema.org/draft-06/schema#"
DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT2019 = "https://json-schema.org/draft/2019-09/schema"


def test_draft4_id_sets_the_base_uri(render: Callable[[Any], str]) -> None:
    schema = {
        "$schema": DRAFT4,
        "id": "http://x.test/root.json#",
        "definitions": {"n": {"type": "integer"}},
        "properties": {"p": {"$ref": "http://x.test/root.json#/definitions/n"}},
    }
    check(schema, [{"p": 1}, {}], [{"p": "x"}], render)


def test_id_with_a_fragment_names_an_anchor(render: Callable[[Any], str]) -> None:
    schema = {
        "$schema": DRAFT6,
        "definitions": {"s": {"$id": "#short", "type": "string", "maxLength": 2}},
        "items": {"$ref": "#short"},
    }
    check(schema, [["ab", ""]], [["abc"], [1]], render)


def test_ref_hides_its_siblings_up_to_draft7(render: Callable[[Any], str]) -> None:
    schema = {"definitions": {"n": {"type": "integer"}}, "$ref": "#/definitions/n"}
    check({**schema, "$schema": DRAFT7, "minimum": 5}, [1, 7], ["x"], render)
    check({**schema, "minimum": 5}, [7], [1, "x"], render)


def test_boolean_exclusive_bounds_of_draft4(render: Callable[[Any], str]) -> None:
    bounds = {"minimum": 1, "exclusiveMinimum": True, "maximum": 3, "exclusiveMaximum": False}
    check({"$schema": DRAFT4, **bounds}, [1.5, 3], [1, 3.5], render)


def test_pointer_into_a_non_keyword_location(render: Callable[[Any], str]) -> None:
    schema = {
        "$ref": "#/Transaction",
        "Transaction": {"properties": {"date": {"type": "integer"}}, "required": ["date"]},
    }
    check(schema, [{"date": 1}], [{"date": "x"}, {}], render)


def test_keywords_of_other_drafts_are_ignored(render: Callable[[Any], str]) -> None:
    conditional = {"if": {"minimum": 0}, "then": {"maximum": 9}}
    check({"$schema": DRAFT4, **conditional}, [5, 50], [], render)
    check({"$schema": DRAFT7, **conditional}, [5, -50], [50], render)
    check({"dependencies": {"a": ["b"]}}, [{"a": 1}], [], render)  # not in 2020-12
    check({"$schema": DRAFT7, "unevaluatedProperties": False}, [{"a": 1}], [], render)


def test_draft4_integers_have_no_fraction(render: Callable[[Any], str]) -> None:
    check({"$schema": DRAFT4, "type": "integer", "maximum": 9}, [3, -1], [3.0, 10], render)
    check({"$schema": DRAFT4, "type": "integer"}, [12345], [12345.0], render)
    check({"$schema": DRAFT4, "type": "integer", "multipleOf": 3}, [6], [6.0, 7], render)
    check({"$schema": DRAFT6, "type": "integer", "maximum": 9}, [3, 3.0], [10], render)


def test_formats_annotate_only_where_2019_09_or_2020_12_is_declared(
    render: Callable[[Any], str],
) -> None:
    date = {"type": "string", "format": "date"}
    for draft in ("https://json-schema.org/draft/2020-12/schema", DRAFT2019):
        assert not grammar.formats_assert({"$schema": draft})
        check({"$schema": draft, **date}, ["2024-01-31", "soon"], [1], render)
    for schema in ({}, {"$schema": DRAFT4}, {"$schema": DRAFT7}):
        assert grammar.formats_assert(schema)
        check({**schema, **date}, ["2024-01-31"], ["soon", "2024-02-30"], render)
