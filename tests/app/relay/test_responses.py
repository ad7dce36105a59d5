"""Contract tests for the Open Responses routes against respx LocalAI replicas: model and ids
rewritten both ways, stored responses fetched from the replica that keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.relay.response_ids import ResponseRef, parse_id
from app.settings import Settings

from ...support.chunks import SSE_DONE, named_event
from .test_chat import assert_openai_error

REPLICAS = ("http://localai-0.test:8080", "http://localai-1.test:8080")
REGISTRY = f"""
models:
  chat:
    localai_model: qwen3
    capabilities: [chat]
    upstreams: [{REPLICAS[0]}, {REPLICAS[1]}]
    defaults: {{max_tokens: 32, temperature: 0.5}}
    retries: 1
  other:
    localai_model: qwen3
    capabilities: [chat]
    upstreams: [{REPLICAS[1]}]
  elsewhere:
    localai_model: qwen3
    capabilities: [chat]
    upstreams: [http://localai-2.test:8080]
"""
UPSTREAM_ID = "resp_4a5b"
SSE = {"content-type": "text/event-stream"}


@pytest.fixture
def localai() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def client(tmp_path: Path, localai: respx.MockRouter) -> Iterator[TestClient]:
    registry = tmp_path / "models.yaml"
    registry.write_text(REGISTRY)
    settings = Settings(
        registry=registry, http_transport="httpx", health_interval=0, _env_file=None
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def resource(response_id: str = UPSTREAM_ID, previous: str | None = None) -> dict[str, Any]:
    item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant"}
    item["content"] = [{"type": "output_text", "text": "hi", "annotations": [], "logprobs": []}]
    return {
        "id": response_id,
        "object": "response",
        "status": "completed",
        "model": "qwen3",
        "output": [item],
        "previous_response_id": previous,
        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
    }


def answer_on(localai: respx.MockRouter, replica: int, **reply: Any) -> respx.Route:
    return localai.post(f"{REPLICAS[replica]}/v1/responses").respond(**reply)


def other_replica_fails(localai: respx.MockRouter, replica: int) -> None:
    localai.post(f"{REPLICAS[1 - replica]}/v1/responses").mock(side_effect=httpx.ConnectError)


def test_a_response_gets_an_id_that_names_its_model_and_replica(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = answer_on(localai, 1, json=resource())
    other_replica_fails(localai, 1)
    reply = client.post("/v1/responses", json={"model": "chat", "input": "hi"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["model"] == "chat"
    assert parse_id(body["id"]) == ResponseRef("chat", 1, UPSTREAM_ID)
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["model"] == "qwen3"
    assert (sent["max_output_tokens"], sent["temperature"]) == (32, 0.5), "defaults, renamed"
    assert "max_tokens" not in sent


def test_get_and_cancel_go_to_the_replica_that_keeps_the_response(
    client: TestClient, localai: respx.MockRouter
) -> None:
    public = ResponseRef("chat", 1, UPSTREAM_ID).public_id
    got = localai.get(f"{REPLICAS[1]}/v1/responses/{UPSTREAM_ID}").respond(json=resource())
    cancelled = localai.post(f"{REPLICAS[1]}/v1/responses/{UPSTREAM_ID}/cancel").respond(
        json=resource()
    )
    fetched = client.get(f"/v1/responses/{public}")
    assert fetched.status_code == 200 and fetched.json()["id"] == public
    assert fetched.json()["model"] == "chat"
    assert client.post(f"/v1/responses/{public}/cancel").json()["id"] == public
    assert got.call_count == 1 and cancelled.call_count == 1


def test_a_response_the_replica_no_longer_keeps_is_404_with_the_gateway_id(
    client: TestClient, localai: respx.MockRouter
) -> None:
    public = ResponseRef("chat", 0, UPSTREAM_ID).public_id
    missing = {"error": {"type": "not_found", "message": f"response not found: {UPSTREAM_ID}"}}
    localai.get(f"{REPLICAS[0]}/v1/responses/{UPSTREAM_ID}").respond(404, json=missing)
    error = assert_openai_error(client.get(f"/v1/responses/{public}"), 404)
    assert public in error["message"] and UPSTREAM_ID not in error["message"]


@pytest.mark.parametrize(
    ("response_id", "message"),
    [
        ("resp_nonsense", "No response has the id"),
        ("chatcmpl-1", "No response has the id"),
        (ResponseRef("chat", None, UPSTREAM_ID).public_id, "answered in-process"),
        (ResponseRef("chat", 7, UPSTREAM_ID).public_id, "No response has the id"),
    ],
)
def test_ids_the_gateway_cannot_serve_are_404(
    client: TestClient, response_id: str, message: str
) -> None:
    assert (
        message in assert_openai_error(client.get(f"/v1/responses/{response_id}"), 404)["message"]
    )


def test_previous_response_id_is_pinned_to_its_replica_and_translated(
    client: TestClient, localai: respx.MockRouter
) -> None:
    previous = ResponseRef("chat", 1, "resp_prev")
    route = answer_on(localai, 1, json=resource(previous="resp_prev"))
    localai.post(f"{REPLICAS[0]}/v1/responses").respond(500)  # never asked: pinned
    body = {"model": "other", "input": "more", "previous_response_id": previous.public_id}
    reply = client.post("/v1/responses", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["previous_response_id"] == previous.public_id
    assert parse_id(reply.json()["id"]) == ResponseRef("other", 0, UPSTREAM_ID)
    assert orjson.loads(route.calls.last.request.content)["previous_response_id"] == "resp_prev"


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        (ResponseRef("elsewhere", 0, "resp_p").public_id, "continue it with model 'elsewhere'"),
        (ResponseRef("chat", None, "resp_p").public_id, "In-process models keep no responses"),
        ("resp_garbage", "No response has the id"),
    ],
)
def test_a_previous_response_the_model_cannot_reach_is_400(
    client: TestClient, previous: str, message: str
) -> None:
    body = {"model": "chat", "input": "more", "previous_response_id": previous}
    error = assert_openai_error(client.post("/v1/responses", json=body), 400)
    assert message in error["message"] and error["param"] == "previous_response_id"


def stream_events(response_id: str = UPSTREAM_ID) -> bytes:
    created = {**resource(response_id), "status": "in_progress", "output": [], "usage": None}
    item = {"type": "message", "id": "msg_1", "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    sent: list[dict[str, Any]] = [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {"type": "response.in_progress", "sequence_number": 1, "response": created},
        {"type": "response.output_item.added", "sequence_number": 2, "item": item},
        {"type": "response.content_part.added", "sequence_number": 3, "part": part},
        {"type": "response.output_text.delta", "sequence_number": 4, "delta": "hi"},
        {"type": "response.completed", "sequence_number": 5, "response": resource(response_id)},
    ]
    return b"".join(named_event(event) for event in sent) + SSE_DONE


def test_a_stream_keeps_event_names_and_rewrites_model_and_id_in_every_event(
    client: TestClient, localai: respx.MockRouter
) -> None:
    answer_on(localai, 0, content=stream_events(), headers=SSE)
    other_replica_fails(localai, 0)
    reply = client.post("/v1/responses", json={"model": "chat", "input": "hi", "stream": True})
    blocks = reply.text.strip().split("\n\n")
    assert blocks[-1] == "data: [DONE]"
    names = [block.split("\n")[0] for block in blocks[:-1]]
    assert names == [
        "event: response.created",
        "event: response.in_progress",
        "event: response.output_item.added",
        "event: response.content_part.added",
        "event: response.output_text.delta",
        "event: response.completed",
    ]
    public = ResponseRef("chat", 0, UPSTREAM_ID).public_id
    assert UPSTREAM_ID + '"' not in reply.text and reply.text.count(public) == 3
    assert '"model":"qwen3"' not in reply.text and reply.text.count('"model":"chat"') == 3


def test_a_stream_failure_is_an_error_event_then_done(
    client: TestClient, localai: respx.MockRouter
) -> None:
    failing = stream_events().split(b"event: response.completed")[0] + named_event(
        {"type": "error", "sequence_number": 3, "error": {"type": "model_error", "message": "x"}}
    )
    answer_on(localai, 0, content=failing + SSE_DONE, headers=SSE)
    other_replica_fails(localai, 0)
    reply = client.post("/v1/responses", json={"model": "chat", "input": "hi", "stream": True})
    blocks = reply.text.strip().split("\n\n")
    assert blocks[-1] == "data: [DONE]"
    name, data = blocks[-2].split("\n")
    assert name == "event: error"
    error = orjson.loads(data.removeprefix("data: "))
    assert error["type"] == "error" and error["error"]["message"] == "x"


def test_tools_need_the_capability(client: TestClient) -> None:
    tools = [{"type": "function", "name": "f", "parameters": {}}]
    body = {"model": "chat", "input": "hi", "tools": tools}
    assert "'tools'" in assert_openai_error(client.post("/v1/responses", json=body), 400)["message"]


def test_text_format_is_also_sent_as_localai_text_format(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = answer_on(localai, 0, json=resource())
    other_replica_fails(localai, 0)
    fmt = {"type": "json_schema", "name": "a", "schema": {"type": "object"}, "strict": True}
    body = {"model": "chat", "input": "hi", "text": {"format": fmt}}
    assert client.post("/v1/responses", json=body).status_code == 200
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["text_format"] == fmt and sent["text"] == {"format": fmt}


def test_an_overflow_before_the_answer_is_a_400_even_after_response_created(
    client: TestClient, localai: respx.MockRouter
) -> None:
    overflow = "request (5000 tokens) exceeds the available context size (2048 tokens)"
    error = {"type": "error", "sequence_number": 2, "error": {"type": "model_error"}}
    error["error"]["message"] = f"model inference failed: {overflow}"
    body = stream_events().split(b"event: response.output_text.delta")[0] + named_event(error)
    route = answer_on(localai, 0, content=body + SSE_DONE, headers=SSE)
    other_replica_fails(localai, 0)
    reply = client.post("/v1/responses", json={"model": "chat", "input": "x", "stream": True})
    assert assert_openai_error(reply, 400, "context_length_exceeded")
    assert route.call_count == 1, "a request's own fault is not retried"
