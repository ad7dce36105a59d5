"""Contract tests for /v1/embeddings, /v1/models, /healthz and /readyz."""

from __future__ import annotations

import orjson
import respx
from fastapi.testclient import TestClient

from .relay.test_chat import assert_openai_error

LOCALAI_EMBEDDINGS = {
    "created": 1,
    "object": "list",
    "id": "e",
    "model": "text-embedding-ada-002",
    "data": [{"embedding": [0.1, 0.2], "index": 0, "object": "embedding"}],
}


def test_embeddings_rewrite_model_and_add_usage(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/embeddings").respond(
        json=LOCALAI_EMBEDDINGS, headers={"x-correlation-id": "corr-9"}
    )
    response = client.post("/v1/embeddings", json={"model": "embed-model", "input": "abcdefgh"})
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "corr-9"
    assert response.headers["x-gateway-backend"] == "localai"
    body = response.json()
    assert body["model"] == "embed-model"
    assert body["data"][0]["embedding"] == [0.1, 0.2]
    assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert orjson.loads(route.calls.last.request.content)["model"] == "text-embedding-ada-002"


def test_embeddings_keep_upstream_usage_when_present(
    client: TestClient, localai: respx.MockRouter
) -> None:
    usage = {"prompt_tokens": 9, "total_tokens": 9}
    localai.post("/v1/embeddings").respond(json={**LOCALAI_EMBEDDINGS, "usage": usage})
    response = client.post("/v1/embeddings", json={"model": "embed-model", "input": ["a", "b"]})
    assert response.json()["usage"] == usage


def test_embeddings_missing_input_is_400(client: TestClient) -> None:
    response = client.post("/v1/embeddings", json={"model": "embed-model"})
    assert assert_openai_error(response, 400)["param"] == "input"


def test_embeddings_on_chat_model_is_400(client: TestClient) -> None:
    response = client.post("/v1/embeddings", json={"model": "chat-model", "input": "x"})
    assert "'embeddings'" in assert_openai_error(response, 400)["message"]


def test_embeddings_unknown_model_is_404(client: TestClient) -> None:
    response = client.post("/v1/embeddings", json={"model": "nope", "input": "x"})
    assert_openai_error(response, 404, "model_not_found")


def test_models_lists_internal_ids_in_openai_shape(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == [
        "chat-model",
        "embed-model",
        "plain-model",
        "timeout-model",
        "think-model",
    ]
    for model in body["data"]:
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
        assert model["owned_by"]


def test_model_by_id_and_alias(client: TestClient) -> None:
    assert client.get("/v1/models/chat-model").json()["id"] == "chat-model"
    assert client.get("/v1/models/chat-alias").json()["id"] == "chat-model"
    assert_openai_error(client.get("/v1/models/nope"), 404, "model_not_found")


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"] == 5
