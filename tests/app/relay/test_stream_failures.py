"""However a stream fails mid-way, the client gets an error event and [DONE], and the replica's
breaker hears of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from app.relay import usage
from tests.support.chunks import sse, sse_payloads, stream, usage_trailer

BODY = {"model": "chat-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


class EventByEvent(httpx.AsyncByteStream):
    """A response body that arrives one SSE event per read."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event


def outcomes(client: TestClient) -> list[bool]:
    dispatcher = client.app.live.gateway.dispatcher  # type: ignore[attr-defined]
    return list(
        dispatcher.breakers["http://localai.test:8080", "qwen3-30b-instruct:q4_k_m"]._outcomes
    )


def test_a_gateway_failure_mid_stream_ends_with_an_error_event_and_done(
    client: TestClient, localai: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = sse(stream(["a", "b", "c"])).split(b"\n\n")[:-1]
    localai.post("/v1/chat/completions").respond(
        stream=EventByEvent([event + b"\n\n" for event in events]),
        headers={"content-type": "text/event-stream"},
    )
    calls = 0
    real_add = usage.CompletionCount.add

    def add(self: usage.CompletionCount, batch: list[bytes]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("a bug in the gateway")
        real_add(self, batch)

    monkeypatch.setattr(usage.CompletionCount, "add", add)
    reply = client.post("/v1/chat/completions", json=BODY)
    assert reply.status_code == 200
    events = sse_payloads(reply.text)
    assert events[-1] == "[DONE]"
    error = events[-2]["error"]
    assert error["type"] == "server_error" and "gateway failed" in error["message"]
    assert "a bug" not in reply.text, "no internals reach the client"
    assert outcomes(client) == [True, False], "the first event succeeded, then the stream failed"


def test_a_trailer_with_odd_usage_values_still_ends_the_stream_well(
    client: TestClient, localai: respx.MockRouter
) -> None:
    trailer = usage_trailer({"prompt_tokens": "many"})  # type: ignore[dict-item]
    localai.post("/v1/chat/completions").respond(
        content=sse([*stream(["a", "b"]), trailer]), headers={"content-type": "text/event-stream"}
    )
    reply = client.post(
        "/v1/chat/completions", json={**BODY, "stream_options": {"include_usage": True}}
    )
    events = sse_payloads(reply.text)
    assert events[-1] == "[DONE]" and events[-2]["usage"]["completion_tokens"] == 2


def test_a_malformed_trailer_is_an_upstream_error_event(
    client: TestClient, localai: respx.MockRouter
) -> None:
    body = sse(stream(["a"])).replace(
        b"data: [DONE]", b'data: {"choices":[],"usage":{nope}\n\ndata: [DONE]'
    )
    localai.post("/v1/chat/completions").respond(
        content=body, headers={"content-type": "text/event-stream"}
    )
    events = sse_payloads(client.post("/v1/chat/completions", json=BODY).text)
    assert events[-1] == "[DONE]" and "error" in events[-2]
