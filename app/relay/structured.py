"""Structured output: `response_format` made into a llama.cpp grammar, and answers checked.

LocalAI's own JSON-Schema conversion drops `$defs`, `required`, `items` and friends and answers
unconstrained with HTTP 200 when it fails (research/localai.md §2.2), so for models with the
`grammar` capability the gateway sends its own grammar (from `grammar/`) instead of the
`response_format`. Non-streaming answers are validated against the schema either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import InvalidRequest, UpstreamSchemaViolation
from ..pipeline import Chain
from ..pipeline.stage import Chunk
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
    """Raise `UpstreamSchemaViolation` unless every choice's content satisfies the contract.

    A choice cut by `max_tokens` (`finish_reason: "length"`) is returned as it is, as OpenAI
    does (its SDK's `parse()` reports the cut).
    """
    for choice in response.get("choices") or ():
        if not isinstance(choice, dict) or choice.get("finish_reason") == "length":
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):  # a tool call or refusal carries no content to check
            check_text(content, contract, model)


def check_text(content: str, contract: AnswerContract, model: str) -> None:
    """Raise `UpstreamSchemaViolation` unless `content` is JSON that satisfies the contract."""
    from jsonschema.exceptions import best_match

    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamSchemaViolation(
            f"Model {model!r} answered with text that is not JSON: {exc}"
        ) from exc
    if contract.schema_json is None:
        if not isinstance(value, dict):
            raise UpstreamSchemaViolation(f"Model {model!r} did not answer a JSON object.")
        return
    error = best_match(validator_for_schema(contract.schema_json).iter_errors(value))
    if error is not None:
        where = "/" + "/".join(map(str, error.absolute_path))
        raise UpstreamSchemaViolation(
            f"Model {model!r} broke the response schema at {where}: {error.message}"
        )


def schema_checked(chain: Chain | None, contract: AnswerContract, model: str) -> Chain:
    """`chain` (or none) followed by the schema check of the whole streamed answer."""
    return Chain([*(chain.stages if chain is not None else ()), SchemaStage(contract, model)])


class SchemaStage:
    """A stream stage that checks the whole answer against the contract when the stream ends
    (`check_answer` for streams): it passes every chunk on, then raises
    `UpstreamSchemaViolation` if a choice that was not cut by `max_tokens` breaks the schema."""

    def __init__(self, contract: AnswerContract, model: str) -> None:
        self.contract = contract
        self.model = model

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk]:
        texts: dict[int, list[str]] = {}
        finish: dict[int, str] = {}
        async for chunk in chunks:
            for choice in chunk.get("choices") or ():
                index = choice.get("index", 0)
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str):
                    texts.setdefault(index, []).append(delta["content"])
                if choice.get("finish_reason"):
                    finish[index] = choice["finish_reason"]
            yield chunk
        for index, pieces in texts.items():
            if finish.get(index) != "length":  # off the loop, as for a whole answer
                await asyncio.to_thread(check_text, "".join(pieces), self.contract, self.model)
