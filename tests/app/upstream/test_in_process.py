"""An in-process model that cannot load answers 503 `model_unavailable`, streamed or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.clients.llamacpp.conftest import requires_smollm2

from ..relay.test_chat import MESSAGES, assert_openai_error

pytestmark = requires_smollm2  # the backend needs llama_cpp importable to try the load


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    registry = tmp_path / "models.yaml"
    registry.write_text(
        "models:\n  gone:\n    localai_model: gone\n    capabilities: [chat]\n"
        f"    legacy: {{gguf: {tmp_path / 'missing.gguf'}}}\n    legacy_mode: only\n"
    )
    settings = Settings(registry=registry, health_interval=0, _env_file=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("stream", [False, True])
def test_unloadable_in_process_model_is_503(client: TestClient, stream: bool) -> None:
    body = {"model": "gone", "messages": MESSAGES, "stream": stream}
    error = assert_openai_error(
        client.post("/v1/chat/completions", json=body), 503, "model_unavailable"
    )
    assert "missing.gguf" not in error["message"], "no file paths reach the client"


def test_bad_request_for_the_in_process_backend_is_400(client: TestClient) -> None:
    body = {"model": "gone", "messages": MESSAGES, "logprobs": True}
    assert_openai_error(client.post("/v1/chat/completions", json=body), 400)


@pytest.mark.parametrize("stream", [False, True])
def test_a_grammar_with_a_json_response_format_is_400_as_for_localai(
    client: TestClient, stream: bool
) -> None:
    body = {
        "model": "gone",
        "messages": MESSAGES,
        "stream": stream,
        "grammar": 'root ::= "{}"',
        "response_format": {"type": "json_object"},
    }
    error = assert_openai_error(client.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "grammar" and "not both" in error["message"]
