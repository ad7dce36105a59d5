"""Default models: a request without `model` uses the registry's default for its capability."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from ..support.chunks import localai_chat
from .conftest import REGISTRY
from .relay.test_chat import assert_openai_error

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text("defaults: {chat: chat-alias}\n" + REGISTRY)
    return path


def test_chat_without_model_uses_the_default_and_names_it(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    response = client.post("/v1/chat/completions", json={"messages": MESSAGES})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "chat-model"
    assert orjson.loads(route.calls.last.request.content)["model"] == "qwen3-30b-instruct:q4_k_m"


def test_a_null_model_is_no_model(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    response = client.post("/v1/chat/completions", json={"model": None, "messages": MESSAGES})
    assert response.json()["model"] == "chat-model"


def test_without_a_default_the_model_stays_required(client: TestClient) -> None:
    response = client.post("/v1/embeddings", json={"input": "abc"})
    error = assert_openai_error(response, 400)
    assert error["param"] == "model" and "'model'" in error["message"]


def test_an_empty_model_is_not_the_default(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"model": "", "messages": MESSAGES})
    assert assert_openai_error(response, 400)["param"] == "model"
