"""The hot routes' lean path: same answers, errors and records as through the full app."""

from __future__ import annotations

import logging

import orjson
import pytest
import respx
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from app.hot_path import HotRoutes
from app.relay import chat

from ..support.chunks import localai_chat

CHAT = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}


def test_unexpected_error_in_a_hot_endpoint_is_an_openai_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> Response:
        raise RuntimeError("bug")

    monkeypatch.setattr(chat, "complete_chat", broken)
    with caplog.at_level(logging.ERROR, logger="localai_gateway.errors"):
        response = client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "message": "The gateway failed to handle this request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    assert "bug" in caplog.text  # logged with its traceback, not sent to the client


def test_hot_paths_keep_the_full_apps_method_and_slash_handling(client: TestClient) -> None:
    response = client.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    response = client.post("/v1/embeddings/", json={}, follow_redirects=False)
    assert response.status_code == 307  # the router redirects to the slashless path


def test_hot_route_request_is_recorded_under_its_endpoint(
    client: TestClient, localai: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    with caplog.at_level(logging.INFO, logger="localai_gateway.access"):
        response = client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    (line,) = [
        orjson.loads(r.getMessage()) for r in caplog.records if r.name == "localai_gateway.access"
    ]
    assert line["endpoint"] == "/v1/chat/completions"
    assert line["model"] == "chat-model"


def test_malformed_body_on_a_hot_route_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/embeddings", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_hot_route_with_dependencies_is_refused() -> None:
    router = APIRouter()

    @router.post("/v1/chat/completions")
    async def needs_more(request: Request, extra: str = Depends(lambda: "x")) -> Response:
        return Response()

    with pytest.raises(TypeError, match="must take only the Request"):
        HotRoutes(router, router.routes)
