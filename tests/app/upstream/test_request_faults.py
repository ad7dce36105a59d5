"""A request's own fault (context overflow, bad grammar) is a 400: not retried, not counted,
and it opens no breaker; breakers are per (upstream URL, LocalAI model)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support.chunks import localai_chat, sse

from ..conftest import LOCALAI

OVERFLOW = (
    "rpc error: code = Internal desc = request (5000 tokens) exceeds the available context "
    "size (2048 tokens), try increasing it"
)
ECHO_500 = {"error": {"code": 500, "message": OVERFLOW, "type": ""}}


@pytest.fixture
def client(registry_file: Path, localai: respx.MockRouter) -> Iterator[TestClient]:
    settings = Settings(
        localai_url=LOCALAI,
        registry=registry_file,
        http_transport="httpx",
        health_interval=0,
        breaker_failures=2,
        retry_backoff=0.001,
        _env_file=None,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def ask(client: TestClient, model: str, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "x" * 100}], "stream": stream}
    return client.post("/v1/chat/completions", json=body)


def test_context_overflow_is_a_400_tried_once_and_opens_no_breaker(
    client: TestClient, localai: respx.MockRouter
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if b"x" * 100 in request.content:
            return httpx.Response(500, json=ECHO_500)
        return httpx.Response(200, json=localai_chat())

    route = localai.post("/v1/chat/completions").mock(side_effect=reply)
    for _ in range(6):  # three times the breaker's threshold
        response = ask(client, "chat-model")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "context_length_exceeded"
        assert error["type"] == "invalid_request_error"
    assert route.call_count == 6, "a request's own fault is never retried"
    ok = client.post(
        "/v1/chat/completions",
        json={"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert ok.status_code == 200, "the breaker stayed closed"
    ready = client.get("/readyz").json()
    assert ready["upstreams"]["localai"]["breakers"]["chat-model"] == "closed"


def test_an_overflow_reported_in_the_first_event_is_a_400_too(
    client: TestClient, localai: respx.MockRouter
) -> None:
    error = {"message": OVERFLOW, "type": "server_error", "code": "server_error"}
    route = localai.post("/v1/chat/completions").respond(
        content=sse([], error=error), headers={"content-type": "text/event-stream"}
    )
    response = ask(client, "chat-model", stream=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert route.call_count == 1


def test_a_failing_model_does_not_open_the_breaker_of_another_on_the_same_localai(
    client: TestClient, localai: respx.MockRouter
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if b'"model":"plain"' in request.content:
            return httpx.Response(500, json={"error": {"code": 500, "message": "model crashed"}})
        return httpx.Response(200, json=localai_chat())

    localai.post("/v1/chat/completions").mock(side_effect=reply)
    assert [ask(client, "plain-model").status_code for _ in range(3)] == [500, 500, 503]
    assert ask(client, "chat-model").status_code == 200
    breakers = client.get("/readyz").json()["upstreams"]["localai"]["breakers"]
    assert breakers["plain-model"] == "open" and breakers["chat-model"] == "closed"


@pytest.mark.parametrize("hint", ["inf", "1e308", "99999999", "garbage", "-5"])
def test_any_upstream_retry_after_is_relayed_as_a_sane_one_without_waiting(
    client: TestClient, localai: respx.MockRouter, hint: str
) -> None:
    localai.post("/v1/chat/completions").respond(
        503, json={"error": {"code": 503, "message": "busy"}}, headers={"retry-after": hint}
    )
    started = time.monotonic()
    reply = ask(client, "chat-model")
    assert time.monotonic() - started < 2, "a wait past the deadline is not slept"
    assert reply.status_code == 503
    retry_after = reply.headers.get("retry-after")
    assert retry_after is None or 1 <= int(retry_after) <= 3600
