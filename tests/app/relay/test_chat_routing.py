"""`routing: prefix`: every turn of a conversation reaches the same replica, in chat, Messages
and Responses alike."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from ...support.chunks import localai_chat, localai_stream
from .test_messages import localai_message
from .test_responses import resource

REPLICAS = ("http://replica-0.test:8080", "http://replica-1.test:8080", "http://replica-2.test")
REGISTRY = f"""
models:
  routed:
    localai_model: routed
    capabilities: [chat]
    upstreams: [{", ".join(REPLICAS)}]
    routing: prefix
  balanced:
    localai_model: balanced
    capabilities: [chat]
    upstreams: [{", ".join(REPLICAS)}]
"""


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(REGISTRY)
    return path


def turn(conversation: int, number: int, model: str = "routed") -> dict[str, object]:
    """The chat body of turn `number` (1-based) of a conversation; odd turns are streamed."""
    messages = [
        {"role": "system", "content": f"You are assistant {conversation}."},
        {"role": "user", "content": "Hello"},
    ]
    for earlier in range(1, number):
        messages += [
            {"role": "assistant", "content": f"reply {earlier}"},
            {"role": "user", "content": f"question {earlier + 1}"},
        ]
    return {"model": model, "messages": messages, "stream": number % 2 == 1}


def as_messages(body: dict[str, Any]) -> dict[str, object]:
    """A chat turn as Anthropic Messages: the system prompt beside the messages."""
    system, *messages = body["messages"]
    return {
        "model": body["model"],
        "system": system["content"],
        "messages": messages,
        "max_tokens": 8,
    }


def as_responses(body: dict[str, Any]) -> dict[str, object]:
    """A chat turn as a Responses body: the system prompt as instructions."""
    system, *messages = body["messages"]
    return {"model": body["model"], "instructions": system["content"], "input": messages}


def reply_chat(request: httpx.Request) -> httpx.Response:
    """LocalAI's chat answer: a stream when asked for one, else a whole reply."""
    if orjson.loads(request.content)["stream"]:
        stream = localai_stream("routed", ["hi"])
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=localai_chat())


Reply = Callable[[httpx.Request], httpx.Response]
# each API's path, its body for a chat turn, and LocalAI's answer
APIS: dict[str, tuple[str, Callable[[dict[str, Any]], object], Reply]] = {
    "chat": ("/v1/chat/completions", lambda body: body, reply_chat),
    "messages": (
        "/v1/messages",
        as_messages,
        lambda _: httpx.Response(200, json=localai_message()),
    ),
    "responses": ("/v1/responses", as_responses, lambda _: httpx.Response(200, json=resource())),
}


def served_by(
    client: TestClient, localai: respx.MockRouter, model: str, api: str = "chat"
) -> dict[int, set[str]]:
    """Send 3 turns of 12 conversations; the replica hosts each conversation reached."""
    path, body_of, reply = APIS[api]
    routes = {url: localai.post(f"{url}{path}").mock(side_effect=reply) for url in REPLICAS}
    hosts: dict[int, set[str]] = defaultdict(set)
    for number in range(1, 4):
        for conversation in range(12):
            response = client.post(path, json=body_of(turn(conversation, number, model)))
            assert response.status_code == 200, response.text
            assert response.read()
            host = next(url for url, route in routes.items() if route.called)
            hosts[conversation].add(host)
            for route in routes.values():
                route.reset()
    return hosts


@pytest.mark.parametrize("api", list(APIS))
def test_every_turn_of_a_conversation_reaches_its_replica(
    client: TestClient, localai: respx.MockRouter, api: str
) -> None:
    hosts = served_by(client, localai, "routed", api)
    assert all(len(reached) == 1 for reached in hosts.values()), hosts
    assert len(set().union(*hosts.values())) > 1, "conversations spread over the replicas"


def test_without_prefix_routing_turns_scatter(
    client: TestClient, localai: respx.MockRouter
) -> None:
    hosts = served_by(client, localai, "balanced")
    assert any(len(reached) > 1 for reached in hosts.values())
