"""Contract tests for /v1/completions, /v1/tokenize and /v1/detokenize against a respx LocalAI."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.relay.completions import tidy_completion

from ...support.chunks import SSE_DONE, completion_chunk, sse_event, sse_payloads
from .test_chat import assert_openai_error

LOCALAI_NAME = "qwen3-30b-instruct:q4_k_m"
SSE = {"content-type": "text/event-stream"}
OVERFLOW = "request (5000 tokens) exceeds the available context size (2048 tokens)"


def stream_of(*pieces: str, failure: str | None = None, usage: bool = True) -> bytes:
    events = [sse_event(completion_chunk(p, model=LOCALAI_NAME)) for p in pieces]
    if failure is not None:  # LocalAI: a text chunk, and no [DONE]
        text = f"Internal error: {failure}"
        return b"".join([*events, sse_event(completion_chunk(text, "stop", model=LOCALAI_NAME))])
    events.append(sse_event(completion_chunk(None, "stop", model=LOCALAI_NAME)))
    if usage:
        counts = {"prompt_tokens": 2, "completion_tokens": len(pieces), "total_tokens": 9}
        trailer = {
            "id": "c",
            "created": 1,
            "model": LOCALAI_NAME,
            "object": "chat.completion.chunk",
        }
        events.append(sse_event({**trailer, "choices": [], "usage": counts}))
    return b"".join([*events, SSE_DONE])


def ask(client: TestClient, **fields: Any) -> Any:
    return client.post("/v1/completions", json={"model": "chat-model", "prompt": "Hi", **fields})


def test_a_completion_is_relayed_with_the_model_rewritten_both_ways(
    client: TestClient, localai: respx.MockRouter
) -> None:
    reply = {"object": "text_completion", "model": LOCALAI_NAME, "id": "c"}
    reply["choices"] = [
        {"index": 0, "finish_reason": "stop", "text": "there"},
        {"index": 1, "finish_reason": "stop"},  # an empty answer: LocalAI leaves `text` out
    ]
    route = localai.post("/v1/completions").respond(json=reply)
    response = ask(client, echo=False)
    assert response.status_code == 200 and response.json()["model"] == "chat-model"
    assert [choice["text"] for choice in response.json()["choices"]] == ["there", ""]
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["model"] == LOCALAI_NAME and sent["max_tokens"] == 64, "registry defaults apply"


@pytest.mark.parametrize("include_usage", [False, True])
def test_a_stream_asks_for_usage_and_shows_it_only_if_asked_as_text_completion(
    client: TestClient, localai: respx.MockRouter, include_usage: bool
) -> None:
    route = localai.post("/v1/completions").respond(content=stream_of("a", "b"), headers=SSE)
    options = {"stream_options": {"include_usage": include_usage}}
    events = sse_payloads(ask(client, stream=True, **options).text)
    assert orjson.loads(route.calls.last.request.content)["stream_options"]["include_usage"]
    texts = [e["choices"][0].get("text") for e in events if e != "[DONE]" and e["choices"]]
    assert texts == ["a", "b", ""], "LocalAI leaves an empty text out; OpenAI's clients need it"
    assert all(e["model"] == "chat-model" for e in events[:-1])
    trailers = [e for e in events[:-1] if not e["choices"]]
    if include_usage:
        assert trailers[0]["object"] == "text_completion"
        assert trailers[0]["usage"]["completion_tokens"] == 2
    else:
        assert trailers == []
    assert events[-1] == "[DONE]"


def test_localai_failure_text_chunk_becomes_an_error_event_then_done(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/completions").respond(
        content=stream_of("a", "b", failure="backend crashed"), headers=SSE
    )
    events = sse_payloads(ask(client, stream=True).text)
    assert [e["choices"][0]["text"] for e in events[:2]] == ["a", "b"]
    assert events[2]["error"]["message"] == "backend crashed"
    assert events[3] == "[DONE]"
    assert "Internal error" not in str(events), "the failure is never shown as answer text"


def test_a_failure_before_any_text_is_a_status_and_an_overflow_a_400(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/completions").respond(
        content=stream_of(failure=OVERFLOW), headers=SSE
    )
    error = assert_openai_error(ask(client, stream=True), 400, "context_length_exceeded")
    assert "context size" in error["message"] and route.call_count == 1


def test_prompt_is_required_and_token_arrays_refused(client: TestClient) -> None:
    assert assert_openai_error(ask(client, prompt=None), 400)["param"] == "prompt"
    assert assert_openai_error(ask(client, prompt=[[1, 2]]), 400)["param"] == "prompt"
    assert assert_openai_error(ask(client, grammar="root ::= ("), 400)["code"] == "invalid_grammar"


def test_tokenize_and_detokenize_relay_localai_shapes_without_defaults(
    client: TestClient, localai: respx.MockRouter
) -> None:
    tokenize = localai.post("/v1/tokenize").respond(json={"tokens": [104, 105]})
    detokenize = localai.post("/v1/detokenize").respond(json={"content": "hi"})
    tokens = client.post("/v1/tokenize", json={"model": "chat-model", "content": "hi"})
    assert tokens.json() == {"tokens": [104, 105]}
    assert orjson.loads(tokenize.calls.last.request.content) == {
        "model": LOCALAI_NAME,
        "content": "hi",
    }
    text = client.post("/v1/detokenize", json={"model": "chat-alias", "tokens": [104, 105]})
    assert text.json() == {"content": "hi"} and detokenize.called
    missing = client.post("/v1/tokenize", json={"model": "chat-model"})
    assert assert_openai_error(missing, 400)["param"] == "content"
    embedding = client.post("/v1/tokenize", json={"model": "embed-model", "content": "x"})
    assert "'chat'" in assert_openai_error(embedding, 400)["message"]


@pytest.mark.parametrize(
    ("given", "made"),
    [
        (b'{"index":0,"finish_reason":"stop"}', b'{"index":0,"finish_reason":"stop","text":""}'),
        (
            b'{"index":0,"finish_reason":null,"text":"a"}',
            b'{"index":0,"finish_reason":null,"text":"a"}',
        ),
        (
            b'{"text":"a","index":0,"finish_reason":"length"}',
            b'{"text":"a","index":0,"finish_reason":"length"}',
        ),
    ],
)
def test_only_a_choice_without_text_gets_one(given: bytes, made: bytes) -> None:
    assert tidy_completion(given, b'"model":"m"') == made
