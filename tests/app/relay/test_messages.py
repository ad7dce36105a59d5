"""Contract tests for POST /v1/messages and /v1/messages/count_tokens against a respx LocalAI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

from ...support.chunks import named_event
from ..conftest import LOCALAI

LOCALAI_NAME = "qwen3-30b-instruct:q4_k_m"
HELLO = [{"role": "user", "content": "hello"}]
OVERFLOW = "request (5000 tokens) exceeds the available context size (2048 tokens)"
SSE = {"content-type": "text/event-stream"}


def ask(client: TestClient, model: str = "chat-model", **fields: Any) -> httpx.Response:
    body = {"model": model, "max_tokens": 16, "messages": HELLO, **fields}
    return client.post("/v1/messages", json=body)


def assert_anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == kind
    return str(body["error"]["message"])


def localai_message(text: str = "hi") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "model": LOCALAI_NAME,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }


def events(*pieces: str, error: str | None = None) -> bytes:
    start = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    start |= {"model": LOCALAI_NAME, "usage": {"input_tokens": 0, "output_tokens": 0}}
    block = {"type": "text", "text": ""}
    sent: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": block},
    ]
    sent += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
        for p in pieces
    ]
    if error is not None:
        sent.append({"type": "error", "error": {"type": "api_error", "message": error}})
    else:
        usage = {"input_tokens": 0, "output_tokens": len(pieces)}
        sent += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage},
            {"type": "message_stop"},
        ]
    return b"".join(named_event(event) for event in sent)


def parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        out.append((name.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


def test_a_message_is_relayed_with_the_model_rewritten_both_ways(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/messages").respond(json=localai_message())
    response = ask(client, system="Be brief", temperature=0.2, anthropic_extra={"x": 1})
    assert response.status_code == 200
    assert response.json()["model"] == "chat-model"
    assert response.headers["x-gateway-backend"] == "localai"
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["model"] == LOCALAI_NAME and sent["system"] == "Be brief"
    assert sent["anthropic_extra"] == {"x": 1}, "unknown fields pass through"


def test_a_stream_is_relayed_event_by_event_with_names_and_the_model(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/messages").respond(content=events("a", "b"), headers=SSE)
    response = ask(client, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    received = parse(response.text)
    assert [name for name, _ in received] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert received[0][1]["message"]["model"] == "chat-model"
    assert "[DONE]" not in response.text


@pytest.mark.parametrize(("limit", "reason"), [(2, "max_tokens"), (3, "end_turn")])
def test_an_answer_that_used_all_of_max_tokens_says_so(
    client: TestClient, localai: respx.MockRouter, limit: int, reason: str
) -> None:
    """LocalAI says `end_turn` even when the answer hit the limit; Anthropic says `max_tokens`."""
    whole = localai_message() | {"usage": {"input_tokens": 3, "output_tokens": 2}}
    localai.post("/v1/messages").mock(
        side_effect=[
            httpx.Response(200, json=whole),
            httpx.Response(200, content=events("a", "b"), headers=SSE),
        ]
    )
    assert ask(client, max_tokens=limit).json()["stop_reason"] == reason
    received = dict(parse(ask(client, max_tokens=limit, stream=True).text))
    assert received["message_delta"]["delta"]["stop_reason"] == reason


def test_a_failure_after_the_answer_began_is_an_anthropic_error_event(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/messages").respond(content=events("a", error="boom"), headers=SSE)
    received = parse(ask(client, stream=True).text)
    assert received[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": "boom"}},
    )
    assert [name for name, _ in received][:3] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_context_overflow_is_a_400_invalid_request_error(
    client: TestClient, localai: respx.MockRouter, stream: bool
) -> None:
    if stream:  # LocalAI sends message_start first; the error comes before any answer event
        route = localai.post("/v1/messages").respond(content=events(error=OVERFLOW), headers=SSE)
    else:
        error = {"type": "error", "error": {"type": "api_error", "message": OVERFLOW}}
        route = localai.post("/v1/messages").respond(500, json=error)
    message = assert_anthropic_error(ask(client, stream=stream), 400, "invalid_request_error")
    assert "context size" in message
    assert route.call_count == 1, "a request's own fault is not retried"


def test_gateway_errors_on_these_routes_are_anthropic_shaped(client: TestClient) -> None:
    assert_anthropic_error(ask(client, "nope"), 404, "not_found_error")
    assert "'tools'" in assert_anthropic_error(
        ask(client, "plain-model", tools=[{"name": "f", "input_schema": {}}]),
        400,
        "invalid_request_error",
    )
    no_limit = {"model": "plain-model", "messages": HELLO}
    message = assert_anthropic_error(
        client.post("/v1/messages", json=no_limit), 400, "invalid_request_error"
    )
    assert "max_tokens" in message
    assert_anthropic_error(
        client.post("/v1/messages/count_tokens", json={"model": "nope", "messages": HELLO}),
        404,
        "not_found_error",
    )
    assert "error" in client.post("/v1/chat/completions", json={"model": "nope"}).json()


def test_the_model_default_max_tokens_stands_in(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/messages").respond(json=localai_message())
    body = {"model": "chat-model", "messages": HELLO}  # chat-model's defaults: max_tokens 64
    assert client.post("/v1/messages", json=body).status_code == 200
    assert orjson.loads(route.calls.last.request.content)["max_tokens"] == 64


def test_count_tokens_uses_the_model_tokenizer(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/tokenize").respond(json={"tokens": [1, 2, 3, 4]})
    body = {"model": "chat-model", "system": "S", "messages": HELLO}
    response = client.post("/v1/messages/count_tokens", json=body)
    assert response.status_code == 200 and response.json() == {"input_tokens": 4}
    sent = orjson.loads(route.calls.last.request.content)
    assert sent == {"content": "S\nhello", "model": LOCALAI_NAME}, "no generation defaults"


@pytest.fixture
def keyed(registry_file: Path, tmp_path: Path, localai: respx.MockRouter) -> TestClient:
    import hashlib

    keys = tmp_path / "keys.yaml"
    digest = hashlib.sha256(b"sk-team").hexdigest()
    keys.write_text(f"keys:\n  - {{name: team, sha256: {digest}, models: [plain-model]}}\n")
    settings = Settings(
        localai_url=LOCALAI,
        registry=registry_file,
        api_keys_file=keys,
        http_transport="httpx",
        health_interval=0,
        _env_file=None,
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_anthropic_clients_authenticate_with_x_api_key(
    keyed: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/messages").respond(json=localai_message())
    with keyed as client:
        body = {"model": "plain-model", "max_tokens": 8, "messages": HELLO}
        assert client.post("/v1/messages", json=body, headers={"x-api-key": "sk-team"}).is_success
        assert_anthropic_error(client.post("/v1/messages", json=body), 401, "authentication_error")
        denied = client.post(
            "/v1/messages", json={**body, "model": "chat-model"}, headers={"x-api-key": "sk-team"}
        )
        assert_anthropic_error(denied, 403, "permission_error")
