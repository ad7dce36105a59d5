"""App fixtures: the gateway in-process (TestClient, lifespan run) over a respx-mocked LocalAI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

LOCALAI = "http://localai.test:8080"

REGISTRY = """
models:
  chat-model:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat, tools, grammar]
    aliases: [chat-alias]
    defaults: {max_tokens: 64, temperature: 0.1}
  embed-model:
    localai_model: text-embedding-ada-002
    capabilities: [embeddings]
  plain-model:
    localai_model: plain
    capabilities: [chat]
  timeout-model:
    localai_model: slow
    capabilities: [chat]
    timeout: {total: 0.2, first_token: 0.2}
  think-model:
    localai_model: qwen3-think
    capabilities: [chat]
    stream:
      reasoning: think
      banned_phrases: [forbidden words]
      system_prompt: "You are {{persona}}."
      variables: {persona: a helpful assistant}
"""


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(REGISTRY)
    return path


@pytest.fixture
def settings(registry_file: Path) -> Settings:
    return Settings(
        localai_url=LOCALAI,
        registry=registry_file,
        localai_api_key="sk-upstream-secret",
        http_transport="httpx",
        health_interval=0,
        _env_file=None,
    )


@pytest.fixture
def localai() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=LOCALAI, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client(settings: Settings, localai: respx.MockRouter) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
