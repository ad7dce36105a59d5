"""JSON Schema and Pydantic to llama.cpp GBNF grammars.

    grammar.schema_to_gbnf({"type": "object", "properties": {...}})  # -> GBNF text
    grammar.validate_gbnf(text)                                     # raises GrammarSyntaxError
    grammar.formats_assert(schema)  # whether `format` asserts (not in declared 2019-09/2020-12)

Pipeline, under a compile budget (_budget): _dialect (which draft) -> _resolve (index $id/$ref)
-> _normalize (keywords to a typed normal form, _ir; negations in _negate) -> _compile (rules
per type; automata in _regex/_dfa/_decimal/_keys, objects and arrays in _objects/_arrays) ->
_emit (names, text) -> _validate (llama.cpp's parsing rules).
"""

from grammar._api import json_object_gbnf, model_to_gbnf, schema_to_gbnf, schema_to_gbnf_cached
from grammar._dialect import formats_assert
from grammar._errors import GrammarError, GrammarSyntaxError, UnsupportedSchemaError
from grammar._validate import validate_gbnf

JSON_OBJECT_GBNF: str = json_object_gbnf()

__all__ = [
    "JSON_OBJECT_GBNF",
    "GrammarError",
    "GrammarSyntaxError",
    "UnsupportedSchemaError",
    "formats_assert",
    "json_object_gbnf",
    "model_to_gbnf",
    "schema_to_gbnf",
    "schema_to_gbnf_cached",
    "validate_gbnf",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        _obj.__module__ = "grammar"
