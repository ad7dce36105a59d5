"""grammar_constrained_generation: the grammar sent, the answer checked, one retry, the error."""

from __future__ import annotations

import httpx
import pydantic
import pytest
import respx

import grammar
from clients import LocalAIClient, UpstreamSchemaViolation
from tests.support.chunks import localai_chat

from .conftest import sent_json

MESSAGES = [{"role": "user", "content": "Describe a cat as JSON."}]
MODEL = "qwen3"
CHAT = "/v1/chat/completions"


class Cat(pydantic.BaseModel):
    name: str
    legs: int


CAT_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "legs": {"type": "integer", "minimum": 0}},
    "required": ["name", "legs"],
    "additionalProperties": False,
}


def answers(*texts: str) -> list[httpx.Response]:
    return [httpx.Response(200, json=localai_chat(MODEL, text)) for text in texts]


async def test_a_pydantic_model_gives_a_validated_instance(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT)
    route.side_effect = answers('{"name": "Tom", "legs": 4}')
    cat = await client.grammar_constrained_generation(MESSAGES, MODEL, Cat, max_tokens=64)
    assert cat == Cat(name="Tom", legs=4)
    sent = sent_json(route)
    assert sent["grammar"] == grammar.model_to_gbnf(Cat)
    assert sent["max_tokens"] == 64 and sent["messages"] == MESSAGES


async def test_an_invalid_answer_is_asked_for_once_more_with_the_same_grammar(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT)
    route.side_effect = answers('{"name": "Tom"}', '{"name": "Tom", "legs": 4}')
    assert await client.grammar_constrained_generation(MESSAGES, MODEL, Cat) == Cat(
        name="Tom", legs=4
    )
    grammars = [call.request.content for call in route.calls]
    assert route.call_count == 2 and grammars[0] == grammars[1]


async def test_two_invalid_answers_raise_with_the_text_and_the_errors(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT)
    route.side_effect = answers('{"name": "Tom"}', '{"name": 1, "legs": "four"}')
    with pytest.raises(UpstreamSchemaViolation) as info:
        await client.grammar_constrained_generation(MESSAGES, MODEL, Cat)
    error = info.value
    assert error.text == '{"name": 1, "legs": "four"}' and error.model == MODEL
    assert error.errors == [
        "$.name: Input should be a valid string",
        "$.legs: Input should be a valid integer, unable to parse string as an integer",
    ]
    assert not error.retryable and route.call_count == 2


async def test_a_json_schema_gives_a_validated_dict(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT)
    route.side_effect = answers('{"name": "Tom", "legs": -1}', '{"name": "Tom", "legs": 3}')
    value = await client.grammar_constrained_generation(MESSAGES, MODEL, CAT_SCHEMA)
    assert value == {"name": "Tom", "legs": 3}
    assert sent_json(route)["grammar"] == grammar.schema_to_gbnf(CAT_SCHEMA)


async def test_json_schema_errors_name_the_place_and_non_json_is_an_error(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    localai.post(CHAT).side_effect = answers("not json", '{"name": "Tom", "legs": -1}')
    with pytest.raises(UpstreamSchemaViolation) as info:
        await client.grammar_constrained_generation(MESSAGES, MODEL, CAT_SCHEMA)
    assert info.value.errors == ["$.legs: -1 is less than the minimum of 0"]


async def test_gbnf_text_is_sent_as_is_and_the_text_returned(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT)
    route.side_effect = answers("yes")
    gbnf = 'root ::= "yes" | "no"'
    assert await client.grammar_constrained_generation(MESSAGES, MODEL, gbnf) == "yes"
    assert sent_json(route)["grammar"] == gbnf


@pytest.mark.parametrize(
    "schema",
    [
        'root ::= "unclosed',
        {"type": "object", "properties": {"a": {"type": 7}}},
        {"type": "string", "format": "uuid", "pattern": "(?<=a)b"},
    ],
    ids=["bad-gbnf", "bad-json-schema", "unenforceable-schema"],
)
async def test_a_schema_that_cannot_become_a_grammar_fails_before_any_request(
    client: LocalAIClient, localai: respx.MockRouter, schema: object
) -> None:
    route = localai.post(CHAT)
    with pytest.raises(ValueError):
        await client.grammar_constrained_generation(MESSAGES, MODEL, schema)  # type: ignore[call-overload]
    assert not route.called


async def test_other_schema_types_are_refused(client: LocalAIClient) -> None:
    with pytest.raises(TypeError, match="Pydantic model class"):
        await client.grammar_constrained_generation(MESSAGES, MODEL, 42)  # type: ignore[call-overload]
