"""A fallback model serves only keys allowed to use it, and only they learn its id."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support.chunks import localai_chat

REGISTRY = """
models:
  primary:
    localai_model: big
    capabilities: [chat]
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


def test_a_fallback_the_key_may_not_use_is_not_taken(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(REGISTRY)
    (tmp_path / "keys.yaml").write_text(
        "keys:\n"
        f"  - {{name: narrow, sha256: {sha(ONLY_PRIMARY)}, models: [primary]}}\n"
        f"  - {{name: wide, sha256: {sha(BOTH)}, models: [primary, spare]}}\n"
    )
    settings = Settings(
        registry=tmp_path / "models.yaml",
        api_keys_file=tmp_path / "keys.yaml",
        http_transport="httpx",
        health_interval=0,
        retry_backoff=0.001,
        _env_file=None,
    )
    with respx.mock(assert_all_called=False) as router:
        router.post("http://down.test:8080/v1/chat/completions").mock(
            side_effect=httpx.ConnectError("refused")
        )
        spare = router.post("http://up.test:8080/v1/chat/completions").respond(
            json=localai_chat("small")
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            narrow = client.post("/v1/chat/completions", json=HELLO, headers=auth(ONLY_PRIMARY))
            wide = client.post("/v1/chat/completions", json=HELLO, headers=auth(BOTH))
    assert narrow.status_code == 502 and "x-gateway-fallback" not in narrow.headers
    assert "spare" not in narrow.text
    assert wide.status_code == 200 and wide.headers["x-gateway-fallback"] == "spare"
    assert spare.call_count == 1, "only the key allowed to use the fallback reached it"


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
