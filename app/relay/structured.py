"""Structured output: `response_format` made into a llama.cpp grammar, and answers checked.

LocalAI's own JSON-Schema conversion drops `$defs`, `required`, `items` and friends and answers
unconstrained with HTTP 200 when it fails (research/localai.md §2.2), so for models with the
`grammar` capability the gateway sends its own grammar (from `grammar/`) instead of the
`response_format`. Non-streaming answers are validated against the schema either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import InvalidRequest, UpstreamSchemaViolation
from .schema_check import SCHEMA_PARAM, validator_for_schema

# jsonschema, RE2 and grammar are imported where a request first needs them: together they are
# ~2.4 MB of the gateway's resident memory, and most requests never use a response_format.


@dataclass(frozen=True, slots=True)
class AnswerContract:
    """What an answer must be: any JSON object (`schema_json` None) or an instance of a schema."""

    schema_json: str | None
    strict: bool


def check_client_grammar(body: dict[str, Any]) -> None:
    """Refuse a `grammar` field llama.cpp would not parse (it crashes on bad grammars)."""
    text = body.get("grammar")
    if text is None:
        return
    if not isinstance(text, str):
        raise InvalidRequest("'grammar' must be a GBNF string.", param="grammar")
    from grammar import GrammarSyntaxError, validate_gbnf

    try:
        validate_gbnf(text)
    except GrammarSyntaxError as exc:
        raise InvalidRequest(
            f"Invalid grammar at line {exc.line}, column {exc.column}: {exc.message}",
            param="grammar",
            code="invalid_grammar",
        ) from exc


def answer_contract(body: dict[str, Any]) -> AnswerContract | None:
    """Read `response_format`; None for text or none. Raise `InvalidRequest` when malformed."""
    fmt = body.get("response_format")
    if fmt is None or isinstance(fmt, str):
        return None
    if not isinstance(fmt, dict):
        raise InvalidRequest("'response_format' must be an object.", param="response_format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return AnswerContract(None, strict=True)
    if kind != "json_schema":
        raise InvalidRequest(
            f"Unknown response_format type {kind!r}; use text, json_object or json_schema.",
            param="response_format.type",
        )
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict | bool):
        raise InvalidRequest(
            "response_format.json_schema.schema must be a JSON Schema.", param=SCHEMA_PARAM
        )
    schema_json = orjson.dumps(spec["schema"]).decode()
    validator_for_schema(schema_json)
    return AnswerContract(schema_json, strict=spec.get("strict") is True)


def grammar_for(contract: AnswerContract) -> str:
    """The GBNF grammar of a contract (cached by schema); unsupported schemas are a 400."""
    from grammar import JSON_OBJECT_GBNF, UnsupportedSchemaError, schema_to_gbnf_cached

    if contract.schema_json is None:
        return JSON_OBJECT_GBNF
    try:
        return schema_to_gbnf_cached(contract.schema_json, contract.strict)
    except UnsupportedSchemaError as exc:
        raise InvalidRequest(
            f"The schema cannot be enforced: keyword {exc.keyword!r} at "
            f"{exc.pointer or '/'}: {exc.reason}",
            param=SCHEMA_PARAM,
            code="unsupported_schema",
        ) from exc


def constrain(
    body: dict[str, Any], contract: AnswerContract | None, *, takes_grammar: bool
) -> None:
    """Replace `response_format` by the gateway's grammar when the backend takes grammars.

    LocalAI overwrites `grammar` from `response_format`, so the latter is removed. (A client's
    own `grammar` never comes with a contract: `ChatRequest.parse` refuses both together.)
    """
    if contract is None or not takes_grammar:
        return
    body["grammar"] = grammar_for(contract)
    body.pop("response_format", None)


def check_answer(response: dict[str, Any], contract: AnswerContract, model: str) -> None:
    """Raise `UpstreamSchemaViolation` unless every choice's content satisfies the contract."""
    from jsonschema.exceptions import best_match

    for choice in response.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            continue  # a tool call or refusal carries no content to check
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamSchemaViolation(
                f"Model {model!r} answered with text that is not JSON: {exc}"
            ) from exc
        if contract.schema_json is None:
            if not isinstance(value, dict):
                raise UpstreamSchemaViolation(f"Model {model!r} did not answer a JSON object.")
            continue
        error = best_match(validator_for_schema(contract.schema_json).iter_errors(value))
        if error is not None:
            where = "/" + "/".join(map(str, error.absolute_path))
            raise UpstreamSchemaViolation(
                f"Model {model!r} broke the response schema at {where}: {error.message}"
            )
