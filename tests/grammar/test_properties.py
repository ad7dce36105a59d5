"""Property tests: generated instances are accepted, accepted texts are valid (both renderings)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import grammar
from tests.grammar.conftest import RENDERINGS, accepts

SCHEMAS: dict[str, dict[str, Any]] = {
    "object": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 8},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "tags": {"type": "array", "items": {"enum": ["a", "b", 3]}, "maxItems": 3},
            "score": {"type": "number", "exclusiveMinimum": -1.5, "maximum": 10},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    },
    "open-object": {
        "properties": {"k": {"type": "boolean"}},
        "patternProperties": {"^x": {"type": "null"}},
        "additionalProperties": {"type": "integer"},
    },
    "strings": {"type": "string", "pattern": "^[a-z]{1,3}(-[0-9])?$"},
    "contains-pattern": {"type": "string", "pattern": "ab+c", "maxLength": 12},
    "tuple": {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "items": False,
    },
    "union": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"type": "boolean"}}]},
    "any": {},
}


def _object_instances() -> st.SearchStrategy[dict[str, Any]]:
    """hypothesis-jsonschema 0.23.1 cannot draw objects with hypothesis 6.170 (`many.more` is
    gone), so object schemas compose per-property strategies that it can draw."""
    props = SCHEMAS["object"]["properties"]
    required = SCHEMAS["object"]["required"]
    return st.fixed_dictionaries(
        {k: from_schema(props[k]) for k in required},
        optional={k: from_schema(v) for k, v in props.items() if k not in required},
    )


def _open_object_instances() -> st.SearchStrategy[dict[str, Any]]:
    named = st.fixed_dictionaries({}, optional={"k": st.booleans()})
    patterned = st.dictionaries(
        from_schema({"type": "string", "pattern": "^x"}), st.none(), max_size=2
    )
    others = st.dictionaries(
        st.text(max_size=4).filter(lambda k: not k.startswith("x") and k != "k"),
        st.integers(),
        max_size=2,
    )
    return st.builds(lambda a, b, c: {**c, **b, **a}, named, patterned, others)


STRATEGIES = {
    "object": _object_instances,
    "open-object": _open_object_instances,
    "any": lambda: JSON,
}
PROFILE = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-300, 300)
    | st.floats(-20, 20, allow_nan=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "age", "k", "x1", "z", "tags"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_generated_instances_are_accepted(name: str) -> None:
    gbnf = grammar.schema_to_gbnf(SCHEMAS[name])
    accepts(gbnf, "")  # parse once outside hypothesis (the oracle raises the recursion limit)

    @PROFILE
    @given(STRATEGIES[name]() if name in STRATEGIES else from_schema(SCHEMAS[name]))
    def prop(value: Any) -> None:
        for render in RENDERINGS.values():
            assert accepts(gbnf, render(value)), render(value)

    prop()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_accepted_texts_are_valid(name: str) -> None:
    gbnf = grammar.schema_to_gbnf(SCHEMAS[name])
    validator = jsonschema.Draft202012Validator(SCHEMAS[name])
    accepts(gbnf, "")

    @PROFILE
    @given(JSON)
    def prop(value: Any) -> None:
        for render in RENDERINGS.values():
            text = render(value)
            if accepts(gbnf, text):
                assert validator.is_valid(json.loads(text)), text

    prop()
