"""A fallback model takes a request only when it has the capabilities the request uses."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support.chunks import localai_chat

from ..media.samples import PNG

REGISTRY = """
models:
  primary:
    localai_model: big
    capabilities: [chat, tools, vision]
    upstreams: ["http://down.test:8080"]
    fallback: spare
  spare:
    localai_model: small
    capabilities: [chat]
    upstreams: ["http://up.test:8080"]
"""
HELLO = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
IMAGE = {
    "type": "image_url",
    "image_url": {"url": f"data:image/png;base64,{base64.b64encode(PNG).decode()}"},
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "models.yaml").write_text(REGISTRY)
    settings = Settings(
        registry=tmp_path / "models.yaml",
        http_transport="httpx",
        health_interval=0,
        retry_backoff=0.001,
        _env_file=None,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("fields", "falls_back"),
    [
        ({"messages": HELLO}, True),
        ({"messages": HELLO, "tools": [TOOL]}, False),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, False),
    ],
    ids=["text", "tools", "image"],
)
def test_only_a_request_the_fallback_can_serve_falls_back(
    client: TestClient, fields: dict[str, Any], falls_back: bool
) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.post("http://down.test:8080/v1/chat/completions").mock(
            side_effect=httpx.ConnectError("refused")
        )
        spare = router.post("http://up.test:8080/v1/chat/completions").respond(
            json=localai_chat("small")
        )
        response = client.post("/v1/chat/completions", json={"model": "primary", **fields})
    assert spare.called is falls_back
    if falls_back:
        assert response.status_code == 200
        assert response.headers["x-gateway-fallback"] == "spare"
    else:
        assert response.status_code in (502, 503), response.text
        assert "x-gateway-fallback" not in response.headers
