"""Structured output: the grammar for a schema (from `grammar/`) and the check of an answer.

A schema is a Pydantic model class (answers become validated instances), a JSON Schema dict
(answers become the parsed JSON, validated with `jsonschema`) or GBNF text (answers stay text).
`grammar` and `jsonschema` are imported on first use only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pydantic


class InvalidAnswer(ValueError):
    """Raised by `Structure.parse` for an answer that does not validate; `errors` says where."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Structure:
    """The grammar that constrains answers, and the parser that checks them."""

    grammar: str
    parse: Callable[[str], Any]


Schema = type[pydantic.BaseModel] | Mapping[str, Any] | str


def structure_for(schema: Schema) -> Structure:
    """The `Structure` for a schema; an invalid schema or grammar raises ValueError."""
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        return Structure(_model_grammar(schema), functools.partial(_parse_model, schema))
    if isinstance(schema, Mapping):
        return _json_schema_structure(orjson.dumps(dict(schema)).decode())
    if isinstance(schema, str):
        import grammar

        grammar.validate_gbnf(schema)  # llama.cpp crashes on an invalid grammar
        return Structure(schema, str)
    raise TypeError(
        f"schema must be a Pydantic model class, a JSON Schema dict or GBNF text, "
        f"not {type(schema).__name__}"
    )


@functools.lru_cache(maxsize=128)
def _model_grammar(model: type[pydantic.BaseModel]) -> str:
    import grammar

    return grammar.model_to_gbnf(model)


def _parse_model(model: type[pydantic.BaseModel], text: str) -> pydantic.BaseModel:
    try:
        return model.model_validate_json(text)
    except pydantic.ValidationError as exc:
        raise InvalidAnswer(
            [f"{_where(error['loc'])}: {error['msg']}" for error in exc.errors()]
        ) from exc


def _where(location: tuple[int | str, ...]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)


@functools.lru_cache(maxsize=128)
def _json_schema_structure(schema_json: str) -> Structure:
    """Cached on the schema's JSON text: the grammar and the validator are built once."""
    import jsonschema

    import grammar

    schema = orjson.loads(schema_json)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
    validator = validator_class(schema)

    def parse(text: str) -> Any:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidAnswer([f"$: not JSON ({exc})"]) from exc
        errors = sorted(validator.iter_errors(value), key=lambda error: error.json_path)
        if errors:
            raise InvalidAnswer([f"{error.json_path}: {error.message}" for error in errors])
        return value

    return Structure(grammar.schema_to_gbnf_cached(schema_json), parse)
