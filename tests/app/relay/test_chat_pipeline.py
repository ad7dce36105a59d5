"""The stream pipeline wired into chat: reasoning split, usage policy, validators, templates."""

from __future__ import annotations

from typing import Any

import orjson
import respx
from fastapi.testclient import TestClient

from ...support.chunks import localai_chat, localai_stream, sse_payloads
from .test_chat import MESSAGES, assert_openai_error

SSE = {"content-type": "text/event-stream"}


def with_usage_trailer(stream: bytes, usage: dict[str, Any]) -> bytes:
    trailer = {"id": "u", "created": 1, "model": "m", "object": "chat.completion.chunk"}
    event = b"data: " + orjson.dumps({**trailer, "choices": [], "usage": usage}) + b"\n\n"
    return stream.replace(b"data: [DONE]\n\n", event + b"data: [DONE]\n\n")


def deltas(events: list[Any], field: str) -> str:
    return "".join(
        chunk["choices"][0]["delta"].get(field) or ""
        for chunk in events
        if isinstance(chunk, dict) and chunk.get("choices")
    )


def test_think_tags_split_across_chunks_go_to_reasoning_content(
    client: TestClient, localai: respx.MockRouter
) -> None:
    words = ["<thi", "nk>let me", " think</th", "ink>The answer", " is 4."]
    localai.post("/v1/chat/completions").respond(content=localai_stream("m", words), headers=SSE)
    body = {"model": "think-model", "messages": MESSAGES, "stream": True}
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert events[-1] == "[DONE]"
    assert deltas(events, "content") == "The answer is 4."
    assert deltas(events, "reasoning_content") == "let me think"
    assert all(chunk["model"] == "think-model" for chunk in events[:-1])


def test_include_reasoning_false_drops_reasoning(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(
        content=localai_stream("m", ["<think>x</think>", "y"]), headers=SSE
    )
    body = {
        "model": "think-model",
        "messages": MESSAGES,
        "stream": True,
        "include_reasoning": False,
    }
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert deltas(events, "content") == "y"
    assert deltas(events, "reasoning_content") == ""
    assert "include_reasoning" not in orjson.loads(route.calls.last.request.content)


def test_non_stream_answer_is_split(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(
        json=localai_chat("qwen3-think", "<think>hmm</think>Paris")
    )
    reply = client.post("/v1/chat/completions", json={"model": "think-model", "messages": MESSAGES})
    message = reply.json()["choices"][0]["message"]
    assert message["content"] == "Paris"
    assert message["reasoning_content"] == "hmm"
    assert reply.json()["model"] == "think-model"


def test_non_stream_banned_phrase_is_502(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(
        json=localai_chat("qwen3-think", "these are Forbidden Words here")
    )
    reply = client.post("/v1/chat/completions", json={"model": "think-model", "messages": MESSAGES})
    error = assert_openai_error(reply, 502, "output_validation_failed")
    assert "forbidden words" in error["message"].lower()


def test_streamed_banned_phrase_interrupts_with_content_filter(
    client: TestClient, localai: respx.MockRouter
) -> None:
    words = ["ok ", "forbidden", " words", " more", " text"]
    localai.post("/v1/chat/completions").respond(content=localai_stream("m", words), headers=SSE)
    body = {"model": "think-model", "messages": MESSAGES, "stream": True}
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert "more" not in deltas(events, "content")


def test_system_template_is_prepended_when_client_sends_none(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat("qwen3-think", "ok"))
    client.post("/v1/chat/completions", json={"model": "think-model", "messages": MESSAGES})
    sent = orjson.loads(route.calls.last.request.content)["messages"]
    assert sent[0] == {"role": "system", "content": "You are a helpful assistant."}
    own = [{"role": "system", "content": "mine"}, *MESSAGES]
    client.post("/v1/chat/completions", json={"model": "think-model", "messages": own})
    assert orjson.loads(route.calls.last.request.content)["messages"] == own


def test_bad_include_reasoning_is_400(client: TestClient) -> None:
    body = {"model": "think-model", "messages": MESSAGES, "stream": True, "include_reasoning": 1}
    assert_openai_error(client.post("/v1/chat/completions", json=body), 400)


def test_usage_is_always_asked_upstream_but_passed_only_when_asked(
    client: TestClient, localai: respx.MockRouter
) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    route = localai.post("/v1/chat/completions").respond(
        content=with_usage_trailer(localai_stream("m", ["a", "b"]), usage), headers=SSE
    )
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert orjson.loads(route.calls.last.request.content)["stream_options"] == {
        "include_usage": True
    }
    assert all(chunk["choices"] for chunk in events[:-1]), "no usage trailer unless asked"

    body["stream_options"] = {"include_usage": True}
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert events[-2]["usage"] == usage
    assert events[-2]["model"] == "chat-model"


def test_missing_completion_tokens_are_counted(
    client: TestClient, localai: respx.MockRouter
) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}
    for model in ("chat-model", "think-model"):
        localai.post("/v1/chat/completions").respond(
            content=with_usage_trailer(localai_stream("m", ["a", "b", "c"]), usage), headers=SSE
        )
        body = {
            "model": model,
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
        assert events[-2]["usage"]["completion_tokens"] == 3, model
        assert events[-2]["usage"]["total_tokens"] == 8, model


def test_malformed_event_mid_stream_ends_with_error(
    client: TestClient, localai: respx.MockRouter
) -> None:
    good = localai_stream("m", ["a", "b"])
    cut_at = good.index(b'data: {"created"', good.index(b'"content":"a"'))
    stream = good[:cut_at] + b'data: {"trunc\n\n' + b"data: [DONE]\n\n"
    localai.post("/v1/chat/completions").respond(content=stream, headers=SSE)
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert events[-1] == "[DONE]"
    assert "malformed" in events[-2]["error"]["message"]
