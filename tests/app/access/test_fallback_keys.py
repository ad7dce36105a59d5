"""A fallback model serves only keys allowed to use it (and only they learn its id), and only
requests it has the capabilities for."""

from __future__ import annotations

import base64
import hashlib
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
ONLY_PRIMARY, BOTH = "sk-only-primary", "sk-both"
HELLO = {"model": "primary", "messages": [{"role": "user", "content": "hi"}]}


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def gateway(tmp_path: Path, **settings: Any) -> TestClient:
    """The gateway on REGISTRY, its first model's only replica refusing connections."""
    (tmp_path / "models.yaml").write_text(REGISTRY)
    values = {"http_transport": "httpx", "health_interval": 0, "retry_backoff": 0.001, **settings}
    app = create_app(Settings(registry=tmp_path / "models.yaml", _env_file=None, **values))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def spare() -> Iterator[respx.Route]:
    """LocalAI: the primary's replica refuses connections, the spare's answers."""
    with respx.mock(assert_all_called=False) as router:
        router.post("http://down.test:8080/v1/chat/completions").mock(
            side_effect=httpx.ConnectError("refused")
        )
        yield router.post("http://up.test:8080/v1/chat/completions").respond(
            json=localai_chat("small")
        )


def test_a_fallback_the_key_may_not_use_is_not_taken(tmp_path: Path, spare: respx.Route) -> None:
    (tmp_path / "keys.yaml").write_text(
        "keys:\n"
        f"  - {{name: narrow, sha256: {sha(ONLY_PRIMARY)}, models: [primary]}}\n"
        f"  - {{name: wide, sha256: {sha(BOTH)}, models: [primary, spare]}}\n"
    )
    with gateway(tmp_path, api_keys_file=tmp_path / "keys.yaml") as client:
        narrow = client.post("/v1/chat/completions", json=HELLO, headers=auth(ONLY_PRIMARY))
        wide = client.post("/v1/chat/completions", json=HELLO, headers=auth(BOTH))
    assert narrow.status_code == 502 and "x-gateway-fallback" not in narrow.headers
    assert "spare" not in narrow.text
    assert wide.status_code == 200 and wide.headers["x-gateway-fallback"] == "spare"
    assert spare.call_count == 1, "only the key allowed to use the fallback reached it"


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
IMAGE = {
    "type": "image_url",
    "image_url": {"url": f"data:image/png;base64,{base64.b64encode(PNG).decode()}"},
}


@pytest.mark.parametrize(
    ("fields", "falls_back"),
    [
        ({}, True),
        ({"tools": [TOOL]}, False),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, False),
    ],
    ids=["text", "tools", "image"],
)
def test_only_a_request_the_fallback_can_serve_falls_back(
    tmp_path: Path, spare: respx.Route, fields: dict[str, Any], falls_back: bool
) -> None:
    with gateway(tmp_path) as client:
        response = client.post("/v1/chat/completions", json={**HELLO, **fields})
    assert spare.called is falls_back
    if falls_back:
        assert response.status_code == 200
        assert response.headers["x-gateway-fallback"] == "spare"
    else:  # the primary's outage is the answer
        assert response.status_code == 502, response.text
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        assert "x-gateway-fallback" not in response.headers
