"""The public entry points: JSON Schema or a Pydantic model in, validated GBNF text out."""

from __future__ import annotations

import functools

import orjson
import pydantic

from grammar._budget import budget
from grammar._compile import Compiler
from grammar._dialect import dialect_of
from grammar._emit import Emitter
from grammar._ir import Json, Ref
from grammar._normalize import Normalizer
from grammar._resolve import index
from grammar._validate import validate_gbnf


def schema_to_gbnf(schema: dict[str, Json] | bool, *, strict: bool = True) -> str:
    """Compile a JSON Schema (draft 2020-12) to a llama.cpp GBNF grammar accepting exactly its
    instances; raise UnsupportedSchemaError where that is impossible (when `strict`; otherwise
    such assertions are dropped and the grammar accepts a superset)."""
    with budget():
        norm = Normalizer(index(schema, dialect_of(schema)), strict)
        text = Compiler(norm, Emitter()).compile(frozenset({Ref("")}))
        validate_gbnf(text)
    return text


def model_to_gbnf(model: type[pydantic.BaseModel], *, strict: bool = True) -> str:
    """The grammar of a Pydantic model's JSON Schema (`model_json_schema()`)."""
    return schema_to_gbnf(model.model_json_schema(), strict=strict)


@functools.lru_cache(maxsize=256)
def _cached_canonical(canonical: bytes, strict: bool) -> str:
    return schema_to_gbnf(orjson.loads(canonical), strict=strict)


@functools.lru_cache(maxsize=1024)
def schema_to_gbnf_cached(schema_json: str, strict: bool = True) -> str:
    """schema_to_gbnf for schema JSON text, cached on the exact text and on its canonical form.

    The canonical form drops insignificant whitespace but keeps key order, because property
    order is the order the grammar asks a model to write properties in.
    """
    return _cached_canonical(orjson.dumps(orjson.loads(schema_json)), strict)


@functools.cache
def json_object_gbnf() -> str:
    """The grammar for `response_format: {"type": "json_object"}`: any JSON object."""
    return schema_to_gbnf({"type": "object"})
