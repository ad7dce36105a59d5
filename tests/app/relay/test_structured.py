"""response_format and grammar through chat: our grammar upstream, answers validated."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from grammar import JSON_OBJECT_GBNF, schema_to_gbnf

from ...support.chunks import localai_chat, sse, sse_payloads, stream, usage_trailer
from .test_chat import MESSAGES, assert_openai_error

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def json_schema(schema: object, strict: bool = True) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": strict}}


def ask(client: TestClient, model: str, **fields: Any) -> Any:
    return client.post(
        "/v1/chat/completions", json={"model": model, "messages": MESSAGES, **fields}
    )


def test_json_schema_becomes_our_grammar_and_response_format_is_dropped(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(
        json=localai_chat(content='{"name": "Ada", "age": 36}')
    )
    reply = ask(client, "chat-model", response_format=json_schema(PERSON))
    assert reply.status_code == 200, reply.text
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["grammar"] == schema_to_gbnf(PERSON)
    assert "response_format" not in sent, "LocalAI would overwrite our grammar from it"
    assert reply.json()["model"] == "chat-model"


def test_json_object_uses_the_any_object_grammar(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat(content='{"a": 1}'))
    assert ask(client, "chat-model", response_format={"type": "json_object"}).status_code == 200
    assert orjson.loads(route.calls.last.request.content)["grammar"] == JSON_OBJECT_GBNF


def test_model_without_grammar_capability_gets_response_format_passed(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(
        json=localai_chat(content='{"name": "Ada", "age": 36}')
    )
    assert ask(client, "plain-model", response_format=json_schema(PERSON)).status_code == 200
    sent = orjson.loads(route.calls.last.request.content)
    assert "grammar" not in sent and sent["response_format"]["type"] == "json_schema"


def test_answer_breaking_the_schema_is_502(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(
        json=localai_chat(content='{"name": "Ada", "age": -1}')
    )
    error = assert_openai_error(
        ask(client, "plain-model", response_format=json_schema(PERSON)), 502
    )
    assert error["type"] == "upstream_schema_violation"
    assert "/age" in error["message"] and "minimum" in error["message"]


@pytest.mark.parametrize(
    ("declared", "status"), [(None, 502), ("https://json-schema.org/draft/2020-12/schema", 200)]
)
def test_format_is_checked_as_the_grammar_enforces_it(
    client: TestClient, localai: respx.MockRouter, declared: str | None, status: int
) -> None:
    """A `format` asserts unless the schema declares a draft where it is an annotation."""
    schema: dict[str, Any] = {"type": "object", "properties": {"on": {"format": "date"}}}
    if declared is not None:
        schema["$schema"] = declared
    localai.post("/v1/chat/completions").respond(json=localai_chat(content='{"on": "soon"}'))
    reply = ask(client, "plain-model", response_format=json_schema(schema))
    assert reply.status_code == status, reply.text


def test_answer_that_is_not_json_is_502(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat(content="Sure! Here it is"))
    reply = ask(client, "chat-model", response_format={"type": "json_object"})
    assert assert_openai_error(reply, 502)["type"] == "upstream_schema_violation"


def test_unsupported_schema_is_400_naming_the_keyword(client: TestClient) -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    error = assert_openai_error(ask(client, "chat-model", response_format=json_schema(schema)), 400)
    assert "uniqueItems" in error["message"]
    assert error["code"] == "unsupported_schema"


def test_a_url_bounded_as_pydantics_httpurl_is_exact_or_left_to_the_answer_check(
    client: TestClient, localai: respx.MockRouter
) -> None:
    """A 2083-character bound on a URI has no grammar: strict, a 400 naming it; not strict, the
    grammar keeps the format and the answer check the bound."""
    url = {"type": "string", "format": "uri", "maxLength": 2083}
    schema = {"type": "object", "properties": {"u": url}, "required": ["u"]}
    error = assert_openai_error(ask(client, "chat-model", response_format=json_schema(schema)), 400)
    assert error["code"] == "unsupported_schema" and "maxLength" in error["message"]
    too_long = orjson.dumps({"u": "https://example.com/" + "a" * 2100}).decode()
    route = localai.post("/v1/chat/completions").respond(json=localai_chat(content=too_long))
    loose = json_schema(schema, strict=False)
    assert assert_openai_error(ask(client, "chat-model", response_format=loose), 502)["type"] == (
        "upstream_schema_violation"
    )
    assert "grammar" in orjson.loads(route.calls.last.request.content)


def test_invalid_schema_is_400(client: TestClient) -> None:
    reply = ask(client, "chat-model", response_format=json_schema({"type": "nonsense"}))
    assert_openai_error(reply, 400)


def test_bad_grammar_is_400_with_line_and_column(client: TestClient) -> None:
    error = assert_openai_error(ask(client, "chat-model", grammar='root ::= "a"\nx ::= ('), 400)
    assert error["param"] == "grammar"
    assert "line 2" in error["message"] and "column" in error["message"]


def test_good_client_grammar_passes_untouched(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat(content="yes"))
    grammar = 'root ::= "yes" | "no"'
    assert ask(client, "chat-model", grammar=grammar).status_code == 200
    assert orjson.loads(route.calls.last.request.content)["grammar"] == grammar


def test_unknown_response_format_type_is_400(client: TestClient) -> None:
    assert_openai_error(ask(client, "chat-model", response_format={"type": "xml"}), 400)


def test_streaming_gets_the_grammar_too(client: TestClient, localai: respx.MockRouter) -> None:
    from ...support.chunks import localai_stream

    route = localai.post("/v1/chat/completions").respond(
        content=localai_stream("m", ['{"a"', ": 1}"]), headers={"content-type": "text/event-stream"}
    )
    reply = ask(client, "chat-model", response_format={"type": "json_object"}, stream=True)
    assert reply.status_code == 200
    assert orjson.loads(route.calls.last.request.content)["grammar"] == JSON_OBJECT_GBNF


def test_a_grammar_with_a_json_response_format_is_400_before_any_upstream_call(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    for model in ("chat-model", "plain-model"):  # with and without the grammar capability
        reply = ask(client, model, grammar='root ::= "{}"', response_format={"type": "json_object"})
        error = assert_openai_error(reply, 400)
        assert error["param"] == "grammar" and "not both" in error["message"]
    assert not route.called


CATASTROPHIC = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a|aa)+$"}}}


def test_a_catastrophic_pattern_is_checked_in_linear_time(
    client: TestClient, localai: respx.MockRouter
) -> None:
    """With Python's re this answer takes minutes to check; RE2 takes microseconds."""
    answer = '{"s": "' + "a" * 60 + 'b"}'
    localai.post("/v1/chat/completions").respond(json=localai_chat(content=answer))
    started = time.monotonic()
    reply = ask(client, "plain-model", response_format=json_schema(CATASTROPHIC, strict=False))
    assert time.monotonic() - started < 2
    error = assert_openai_error(reply, 502)
    assert error["code"] == "upstream_schema_violation"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^(a)\\1$"},
        {"type": "string", "pattern": "^(?=a)a$"},
        {"type": "object", "patternProperties": {"^x": {}}, "unevaluatedProperties": False},
    ],
)
def test_a_pattern_re2_cannot_run_is_a_400(client: TestClient, schema: dict[str, Any]) -> None:
    reply = ask(client, "plain-model", response_format=json_schema(schema, strict=False))
    error = assert_openai_error(reply, 400)
    assert error["code"] == "unsupported_schema" and "linear time" in error["message"]


def test_pattern_properties_and_additional_properties_use_re2_too(
    client: TestClient, localai: respx.MockRouter
) -> None:
    schema = {
        "type": "object",
        "patternProperties": {"^x_[a-z]+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    route = localai.post("/v1/chat/completions")
    route.respond(json=localai_chat(content='{"x_ok": 1}'))
    assert ask(client, "plain-model", response_format=json_schema(schema)).status_code == 200
    route.respond(json=localai_chat(content='{"x_ok": "one"}'))
    assert_openai_error(ask(client, "plain-model", response_format=json_schema(schema)), 502)
    route.respond(json=localai_chat(content='{"y": 1}'))
    assert_openai_error(ask(client, "plain-model", response_format=json_schema(schema)), 502)


def test_the_validator_cache_is_bounded_by_bytes() -> None:
    from app.relay import schema_check

    cache = schema_check._ByteBoundedCache(100)
    for index in range(10):
        cache.put(f'{{"title": "{index:040d}"}}', object())  # type: ignore[arg-type]
    assert cache.size <= 100 and cache.get('{"title": "' + "0" * 40 + '"}') is None
    cache.put("x" * 101, object())  # type: ignore[arg-type]
    assert cache.get("x" * 101) is None, "a schema larger than the whole budget is not kept"


def length_cut(content: str) -> dict[str, Any]:
    reply = localai_chat(content=content)
    reply["choices"][0]["finish_reason"] = "length"
    return reply


def test_an_answer_cut_by_max_tokens_is_returned_as_openai_does(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/chat/completions").respond(json=length_cut('{"name": "Ad'))
    reply = ask(client, "chat-model", response_format=json_schema(PERSON), max_tokens=5)
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    assert (choice["finish_reason"], choice["message"]["content"]) == ("length", '{"name": "Ad')


def stream_of(*pieces: str, finish: str = "stop") -> bytes:
    chunks = stream(pieces, finish, model="qwen3-30b-instruct:q4_k_m")
    trailer = {"prompt_tokens": 3, "completion_tokens": len(pieces), "total_tokens": 3}
    return sse([*chunks, usage_trailer(trailer, model="qwen3-30b-instruct:q4_k_m")])


@pytest.mark.parametrize("model", ["chat-model", "think-model"])  # byte and chunk relays alike
def test_a_streamed_answer_that_breaks_the_schema_ends_with_an_error_event(
    client: TestClient, localai: respx.MockRouter, model: str
) -> None:
    localai.post("/v1/chat/completions").respond(
        content=stream_of('{"name": "Ada",', ' "age": -1}'),
        headers={"content-type": "text/event-stream"},
    )
    fields = {"stream_options": {"include_usage": True}}
    reply = ask(client, model, response_format=json_schema(PERSON), stream=True, **fields)
    events = sse_payloads(reply.text)
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events[:-3] if e["choices"]
    )
    assert text == '{"name": "Ada", "age": -1}', "every piece reached the client"
    assert events[-3]["usage"]["completion_tokens"] == 2
    assert events[-2]["error"]["code"] == "upstream_schema_violation"
    assert "/age" in events[-2]["error"]["message"]
    assert events[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("pieces", "finish"), [(('{"name": "Ada",', ' "age": 36}'), "stop"), (('{"na',), "length")]
)
def test_a_valid_or_cut_streamed_answer_ends_normally(
    client: TestClient, localai: respx.MockRouter, pieces: tuple[str, ...], finish: str
) -> None:
    localai.post("/v1/chat/completions").respond(
        content=stream_of(*pieces, finish=finish), headers={"content-type": "text/event-stream"}
    )
    reply = ask(client, "chat-model", response_format=json_schema(PERSON), stream=True)
    events = sse_payloads(reply.text)
    assert events[-2]["choices"][0]["finish_reason"] == finish
    assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1])
