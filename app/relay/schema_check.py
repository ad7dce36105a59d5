"""JSON Schema validators for answers, built from client schemas: bounded time, bounded memory.

A client's `pattern` checked with Python's backtracking `re` can stall the event loop for
minutes (`^(a|aa)+$` against forty `a`s and a `b`), so the keywords that run patterns
(`pattern`, `patternProperties`, `additionalProperties` next to them) run them with RE2, whose
time is linear in the text. A pattern RE2 cannot run (back-references, look-arounds) makes the
schema a 400, and so does `unevaluatedProperties` next to `patternProperties` (jsonschema
would match those with `re`). Validators are cached by schema, bounded by the schemas' bytes.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InvalidRequest

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_PARAM = "response_format.json_schema.schema"
CACHE_BYTES = 8 * 1024 * 1024  # schema text kept with its validator, all schemas together


class _ByteBoundedCache:
    """Least recently used validators, dropped once their schemas hold more than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._entries: collections.OrderedDict[str, Validator] = collections.OrderedDict()

    def get(self, schema_json: str) -> Validator | None:
        found = self._entries.get(schema_json)
        if found is not None:
            self._entries.move_to_end(schema_json)
        return found

    def put(self, schema_json: str, validator: Validator) -> None:
        if len(schema_json) > self.limit:
            return  # too large to keep: built again when used again
        self._entries[schema_json] = validator
        self.size += len(schema_json)
        while self.size > self.limit:
            dropped, _ = self._entries.popitem(last=False)
            self.size -= len(dropped)


_CACHE = _ByteBoundedCache(CACHE_BYTES)


def validator_for_schema(schema_json: str) -> Validator:
    """The validator of a client's schema (cached); an invalid schema is a 400."""
    found = _CACHE.get(schema_json)
    if found is None:
        found = _build(schema_json)
        _CACHE.put(schema_json, found)
    return found


def _build(schema_json: str) -> Validator:
    from jsonschema import FormatChecker, SchemaError
    from jsonschema.validators import validator_for

    from grammar import formats_assert

    schema = orjson.loads(schema_json)
    base = validator_for(schema)
    try:
        base.check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequest(f"Invalid JSON Schema: {exc.message}", param=SCHEMA_PARAM) from exc
    _check_patterns(schema)
    # `format` asserts as the grammar enforces it: unless the schema declares 2019-09/2020-12
    checker = FormatChecker() if formats_assert(schema) else None
    return _linear_time(base)(schema, format_checker=checker)


@functools.cache
def _linear_time(base: type[Validator]) -> type[Validator]:
    """`base` with its pattern keywords run by RE2."""
    from jsonschema import validators

    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    extended: type[Validator] = validators.extend(base, keywords)  # type: ignore[no-untyped-call]
    return extended


def _check_patterns(schema: object) -> None:
    """Refuse (400) a pattern RE2 cannot run, and unevaluatedProperties next to patterns."""
    pending: list[tuple[object, str]] = [(schema, "")]
    while pending:  # iterative: a deep schema must not exhaust the stack
        node, where = pending.pop()
        if isinstance(node, list):
            pending.extend((item, f"{where}/{index}") for index, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict):
            if "unevaluatedProperties" in node:
                _refuse(where, "unevaluatedProperties next to patternProperties")
            for pattern in patterns:
                _regex(pattern, where)
        if isinstance(node.get("pattern"), str):
            _regex(node["pattern"], where)
        pending.extend(
            (value, f"{where}/{name}")
            for name, value in node.items()
            if name not in ("enum", "const", "examples", "default")  # values, not schemas
        )


def _regex(pattern: str, where: str) -> Any:
    try:
        return _compiled(pattern)
    except ValueError:
        _refuse(where, f"the pattern {pattern!r} (back-references and look-arounds are not)")


def _refuse(where: str, what: str) -> None:
    raise InvalidRequest(
        f"The schema at {where or '/'} uses {what}, which answers cannot be checked against in "
        "linear time.",
        param=SCHEMA_PARAM,
        code="unsupported_schema",
    )


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    """The RE2 program of an ECMA-262 pattern; ValueError if RE2 cannot run it."""
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(str(exc)) from exc


# Keyword functions: jsonschema calls them with its concrete validator (`descend` and all).


def _pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[Any]:
    from jsonschema import ValidationError

    if isinstance(instance, str) and _compiled(pattern).search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: object, schema: Any
) -> Iterator[Any]:
    if not isinstance(instance, dict):
        return
    for pattern, subschema in patterns.items():
        compiled = _compiled(pattern)
        for name, value in instance.items():
            if compiled.search(name) is not None:
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(
    validator: Any, allowed: Any, instance: object, schema: Mapping[str, Any]
) -> Iterator[Any]:
    from jsonschema import ValidationError

    if not isinstance(instance, dict):
        return
    known = schema.get("properties") or {}
    patterns = [_compiled(p) for p in schema.get("patternProperties") or {}]
    extras = sorted(
        name
        for name in instance
        if name not in known and not any(p.search(name) is not None for p in patterns)
    )
    if isinstance(allowed, dict):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif allowed is False and extras:
        yield ValidationError(
            f"Additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)"
        )
