"""The fake's completions, Open Responses, Anthropic Messages and tokenize routes must write
LocalAI v4.9's bytes (completion.go, openresponses/responses.go, anthropic/messages.go)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.fake_localai import FakeLocalAIApp

CHAT = "qwen3-30b-instruct:q4_k_m"


@pytest.fixture
async def client(fake_localai_app: FakeLocalAIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_localai_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake:8080") as c:
        yield c


def blocks(body: str) -> list[str]:
    assert body.endswith("\n\n")
    return body[:-2].split("\n\n")


def named(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each named event; the name must equal the data's type."""
    out = []
    for block in blocks(body):
        if block == "data: [DONE]":
            continue
        event, data = block.split("\n")
        name = event.removeprefix("event: ")
        value = json.loads(data.removeprefix("data: "))
        assert value["type"] == name, block
        out.append((name, value))
    return out


# /v1/completions


async def test_completion_stream_bytes_match_localai(client: httpx.AsyncClient) -> None:
    body = {
        "model": CHAT,
        "prompt": "hi",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = await client.post("/v1/completions", json=body, headers={"x-correlation-id": "c1"})
    head = '{"created":%d,"object":"text_completion","id":"c1","model":"%s","choices":'
    created = json.loads(blocks(response.text)[0][6:])["created"]
    prefix = head % (created, CHAT)
    words = ["mocked", " completion", " of:", " hi"]
    expected = [f'data: {prefix}[{{"index":0,"finish_reason":null,"text":"{w}"}}]}}' for w in words]
    expected.append(f'data: {prefix}[{{"index":0,"finish_reason":"stop"}}]}}')
    usage = '{"prompt_tokens":1,"completion_tokens":4,"total_tokens":5}'
    expected.append(
        f'data: {{"id":"c1","created":{created},"model":"{CHAT}",'
        f'"object":"chat.completion.chunk","choices":[],"usage":{usage}}}'
    )
    assert blocks(response.text) == [*expected, "data: [DONE]"]


async def test_completion_whole_answer_has_zero_usage_and_stop(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "prompt": ["a", "b c"], "max_tokens": 2}
    reply = (await client.post("/v1/completions", json=body)).json()
    assert reply["object"] == "text_completion" and reply["model"] == CHAT
    assert reply["choices"] == [
        {"index": 0, "finish_reason": "stop", "text": "mocked completion"},
        {"index": 1, "finish_reason": "stop", "text": "mocked completion"},
    ]
    assert reply["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


async def test_completion_midstream_failure_is_a_text_chunk_without_done(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": CHAT, "prompt": "MOCK_ERROR_MIDSTREAM", "stream": True}
    events = blocks((await client.post("/v1/completions", json=body)).text)
    last = json.loads(events[-1][6:])
    assert last["choices"] == [
        {"index": 0, "finish_reason": "stop", "text": "Internal error: simulated failure"}
    ]
    assert len(events) == 4 and "[DONE]" not in events[-1]


async def test_completion_stream_needs_one_prompt(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "prompt": ["a", "b"], "stream": True}
    response = await client.post("/v1/completions", json=body)
    assert response.status_code == 400
    assert "exactly one prompt" in response.json()["error"]["message"]


# /v1/messages


async def test_messages_stream_events_match_localai(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "max_tokens": 64, "stream": True}
    body["messages"] = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    response = await client.post("/v1/messages", json=body)
    assert response.headers["content-type"] == "text/event-stream"
    assert blocks(response.text)[0].startswith(
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_'
    )
    assert blocks(response.text)[1] == (
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}'
    )
    assert blocks(response.text)[2] == (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"mocked"}}'
    )
    events = named(response.text)
    assert [name for name, _ in events][-3:] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["model"] == CHAT and start["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"input_tokens": 0, "output_tokens": 4},
    }
    assert "[DONE]" not in response.text


async def test_messages_whole_answer_and_refusals(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
    reply = (await client.post("/v1/messages", json=body)).json()
    assert list(reply) == ["id", "type", "role", "content", "model", "stop_reason", "usage"]
    assert reply["content"] == [{"type": "text", "text": "mocked response"}]
    assert reply["stop_reason"] == "end_turn", "LocalAI never says max_tokens"
    refused = await client.post("/v1/messages", json={**body, "max_tokens": 0})
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens is required and must be greater than 0",
        },
    }


async def test_messages_failure_is_an_error_event_without_message_stop(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": CHAT, "max_tokens": 64, "stream": True}
    body["messages"] = [{"role": "user", "content": "MOCK_ERROR_IMMEDIATE"}]
    events = named((await client.post("/v1/messages", json=body)).text)
    assert [name for name, _ in events] == ["message_start", "content_block_start", "error"]
    assert events[-1][1]["error"]["type"] == "api_error"


# /v1/responses


async def test_responses_whole_answer_has_every_field_in_localai_order(
    client: httpx.AsyncClient,
) -> None:
    reply = (await client.post("/v1/responses", json={"model": CHAT, "input": "hi"})).json()
    assert list(reply)[:8] == [
        "id",
        "object",
        "created_at",
        "completed_at",
        "status",
        "model",
        "output",
        "error",
    ]
    assert reply["id"].startswith("resp_") and reply["model"] == CHAT
    assert reply["output"][0]["content"][0]["text"] == "mocked response to: hi"
    assert reply["usage"]["output_tokens"] == 4 and reply["store"] is True


async def test_responses_stream_event_sequence(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "input": [{"role": "user", "content": "hi"}], "stream": True}
    response = await client.post("/v1/responses", json=body)
    events = named(response.text)
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 4,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [value["sequence_number"] for _, value in events] == list(range(len(events)))
    assert blocks(response.text)[-1] == "data: [DONE]"
    assert '"type":"response.output_text.delta","sequence_number":4,"output_index":0,' in (
        response.text
    )


async def test_a_stored_response_is_found_by_id_and_cancel_returns_it(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/v1/responses", json={"model": CHAT, "input": "hi"})).json()
    found = await client.get(f"/v1/responses/{created['id']}")
    assert found.json() == created
    cancelled = await client.post(f"/v1/responses/{created['id']}/cancel")
    assert cancelled.json()["status"] == "completed"
    missing = await client.get("/v1/responses/resp_nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"type": "not_found", "message": "response not found: resp_nope", "param": "id"}
    }


async def test_previous_response_id_must_be_in_this_store(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "input": "more", "previous_response_id": "resp_elsewhere"}
    response = await client.post("/v1/responses", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "previous_response_id"


async def test_background_is_queued_then_completed(client: httpx.AsyncClient) -> None:
    body = {"model": CHAT, "input": "hi", "background": True}
    queued = (await client.post("/v1/responses", json=body)).json()
    assert queued["status"] == "queued" and queued["output"] == []
    polled = (await client.get(f"/v1/responses/{queued['id']}")).json()
    assert polled["status"] == "completed"


# /v1/tokenize, /v1/detokenize


async def test_tokenize_round_trips(client: httpx.AsyncClient) -> None:
    tokens = (await client.post("/v1/tokenize", json={"model": CHAT, "content": "héllo"})).json()
    assert list(tokens) == ["tokens"] and len(tokens["tokens"]) == 5
    text = await client.post("/v1/detokenize", json={"model": CHAT, **tokens})
    assert text.json() == {"content": "héllo"}
    assert (await client.post("/v1/tokenize", json={"content": "x"})).status_code == 400
