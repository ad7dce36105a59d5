"""Contract tests for POST /v1/chat/completions against a respx-mocked LocalAI."""

from __future__ import annotations

import httpx
import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from ...support.chunks import localai_chat, localai_stream, sse_payloads

MESSAGES = [{"role": "user", "content": "hello"}]


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_chat_rewrites_model_both_ways_and_passes_unknown_fields(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    body = {
        "model": "chat-model",
        "messages": MESSAGES,
        "grammar": 'root ::= "yes"',
        "top_k": 20,
        "repeat_penalty": 1.1,
        "chat_template_kwargs": {"enable_thinking": False},
        "max_tokens": 7,
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["model"] == "chat-model"
    assert response.json()["choices"][0]["message"]["content"] == "hi"
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["model"] == "qwen3-30b-instruct:q4_k_m"
    assert sent["grammar"] == 'root ::= "yes"'
    assert sent["top_k"] == 20 and sent["repeat_penalty"] == 1.1
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert sent["max_tokens"] == 7, "a client value wins over the registry default"
    assert sent["temperature"] == 0.1, "registry defaults fill omitted fields"
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-upstream-secret"


def test_alias_resolves_to_the_same_model(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    response = client.post(
        "/v1/chat/completions", json={"model": "chat-alias", "messages": MESSAGES}
    )
    assert response.status_code == 200
    assert response.json()["model"] == "chat-model"


def test_stream_relays_each_event_with_model_rewritten(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/chat/completions").respond(
        content=localai_stream("qwen3-30b-instruct:q4_k_m", ["One", " two"]),
        headers={"content-type": "text/event-stream", "x-correlation-id": "corr-1"},
    )
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["x-correlation-id"] == "corr-1"
        text = response.read().decode()
    events = sse_payloads(text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(chunk["model"] == "chat-model" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["One", " two"]
    assert chunks[-1]["choices"][0] == {"index": 0, "finish_reason": "stop", "delta": {}}


def test_stream_error_event_mid_stream_becomes_openai_error_then_done(
    client: TestClient, localai: respx.MockRouter
) -> None:
    error = {"message": "simulated failure", "type": "server_error", "code": "server_error"}
    localai.post("/v1/chat/completions").respond(
        content=localai_stream("m", ["partial"], error=error),
        headers={"content-type": "text/event-stream"},
    )
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    response = client.post("/v1/chat/completions", json=body)
    events = sse_payloads(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2] == {
        "error": {
            "message": "simulated failure",
            "type": "server_error",
            "param": None,
            "code": "server_error",
        }
    }
    assert events[1]["choices"][0]["delta"]["content"] == "partial"


def test_stream_error_before_first_event_is_a_proper_status(
    client: TestClient, localai: respx.MockRouter
) -> None:
    error = {"message": "model failed to load", "type": "server_error", "code": "server_error"}
    localai.post("/v1/chat/completions").respond(
        content=b"data: " + orjson.dumps({"error": error}) + b"\n\ndata: [DONE]\n\n",
        headers={"content-type": "text/event-stream"},
    )
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    response = client.post("/v1/chat/completions", json=body)
    assert_openai_error(response, 502)
    assert "model failed to load" in response.json()["error"]["message"]


def test_cut_stream_ends_with_error_event(client: TestClient, localai: respx.MockRouter) -> None:
    body_bytes = localai_stream("m", ["a", "b"]).rsplit(b"data:", 2)[0]  # no final chunk, no [DONE]
    localai.post("/v1/chat/completions").respond(
        content=body_bytes, headers={"content-type": "text/event-stream"}
    )
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    events = sse_payloads(client.post("/v1/chat/completions", json=body).text)
    assert events[-1] == "[DONE]"
    assert "ended before [DONE]" in events[-2]["error"]["message"]


def test_unknown_model_is_404_model_not_found(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"model": "nope", "messages": MESSAGES})
    error = assert_openai_error(response, 404, "model_not_found")
    assert error["param"] == "model"


def test_embeddings_model_asked_for_chat_is_400_naming_capability(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", json={"model": "embed-model", "messages": MESSAGES}
    )
    error = assert_openai_error(response, 400)
    assert "'chat'" in error["message"]


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    "fields",
    [
        {"tools": [TOOL]},
        {"tool_choice": "auto"},
        {"functions": [TOOL["function"]]},
        {"function_call": "auto"},
    ],
)
def test_tools_for_a_model_without_the_capability_are_400_naming_it(
    client: TestClient, localai: respx.MockRouter, fields: dict[str, object]
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    body = {"model": "plain-model", "messages": MESSAGES, **fields}
    error = assert_openai_error(client.post("/v1/chat/completions", json=body), 400)
    assert error["code"] == "model_capability_not_supported"
    assert "'tools'" in error["message"] and error["param"] == next(iter(fields))
    assert not route.called


def test_tools_reach_a_model_with_the_capability_and_empty_ones_any_model(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    body = {"model": "chat-model", "messages": MESSAGES, "tools": [TOOL], "tool_choice": "auto"}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    assert orjson.loads(route.calls.last.request.content)["tools"] == [TOOL]
    empty = {"model": "plain-model", "messages": MESSAGES, "tools": [], "tool_choice": None}
    assert client.post("/v1/chat/completions", json=empty).status_code == 200


def test_malformed_json_is_400_not_422(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    assert_openai_error(response, 400)


def test_missing_messages_is_400_naming_the_field(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"model": "chat-model"})
    assert assert_openai_error(response, 400)["param"] == "messages"


def test_missing_model_is_400(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"messages": MESSAGES})
    assert assert_openai_error(response, 400)["param"] == "model"


def test_body_that_is_not_an_object_is_400(client: TestClient) -> None:
    assert_openai_error(client.post("/v1/chat/completions", json=[1, 2]), 400)


def test_upstream_unreachable_is_502_without_leaking_the_url(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    response = client.post(
        "/v1/chat/completions", json={"model": "chat-model", "messages": MESSAGES}
    )
    assert_openai_error(response, 502, "upstream_unavailable")
    assert "localai.test" not in response.text and "sk-upstream" not in response.text


def test_upstream_timeout_is_504(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").mock(side_effect=httpx.ConnectTimeout("slow"))
    response = client.post(
        "/v1/chat/completions", json={"model": "chat-model", "messages": MESSAGES}
    )
    assert_openai_error(response, 504, "timeout")


def test_total_timeout_fires_on_a_slow_upstream(
    client: TestClient, localai: respx.MockRouter
) -> None:
    import asyncio

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=localai_chat())

    localai.post("/v1/chat/completions").mock(side_effect=slow)
    response = client.post(
        "/v1/chat/completions", json={"model": "timeout-model", "messages": MESSAGES}
    )
    error = assert_openai_error(response, 504, "timeout")
    assert "0.2s" in error["message"]


def test_upstream_4xx_is_relayed_with_status_and_clean_message(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/chat/completions").respond(
        400,
        json={
            "error": {
                "code": 400,
                "message": "code=400, message=failed parsing request body: bad",
                "type": "",
            }
        },
    )
    response = client.post(
        "/v1/chat/completions", json={"model": "chat-model", "messages": MESSAGES}
    )
    error = assert_openai_error(response, 400)
    assert error["message"] == "failed parsing request body: bad"
    assert error["type"] == "invalid_request_error"


def test_upstream_503_passes_retry_after(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(
        503,
        headers={"retry-after": "7"},
        json={"error": {"type": "model_loading", "message": "loading", "code": "model_loading"}},
    )
    response = client.post(
        "/v1/chat/completions", json={"model": "chat-model", "messages": MESSAGES}
    )
    error = assert_openai_error(response, 503, "model_loading")
    assert response.headers["retry-after"] == "7"
    assert error["type"] == "model_loading"


def test_upstream_message_with_internal_url_is_scrubbed(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/chat/completions").respond(
        500,
        json={"error": {"code": 500, "message": "dial http://10.0.0.7:8080/x failed", "type": ""}},
    )
    response = client.post(
        "/v1/chat/completions", json={"model": "chat-model", "messages": MESSAGES}
    )
    error = assert_openai_error(response, 500)
    assert "10.0.0.7" not in error["message"]
    assert error["type"] == "api_error"


def test_unknown_route_is_openai_shaped_404(client: TestClient) -> None:
    assert_openai_error(client.get("/v1/nothing-here"), 404)
