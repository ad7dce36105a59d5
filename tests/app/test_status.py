"""The status page and its data: admin keys only (Basic or Bearer), names but never URLs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.observability.window import RECENT
from app.settings import Settings
from tests.support.chunks import localai_chat

from .conftest import LOCALAI

ADMIN, TEAM = "sk-admin-secret", "sk-team-secret"
HELLO = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}


def entry(name: str, key: str, admin: bool) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"  - {{name: {name}, sha256: {digest}, models: '*', admin: {str(admin).lower()}}}\n"


@pytest.fixture
def authed(settings: Settings, tmp_path: Path, localai: respx.MockRouter) -> Iterator[TestClient]:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n" + entry("root", ADMIN, True) + entry("team", TEAM, False))
    RECENT.keep_only(())  # the last minute of this test's requests only
    with TestClient(create_app(settings.model_copy(update={"api_keys_file": keys}))) as client:
        yield client


def basic(password: str, user: str = "admin") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.mark.parametrize("path", ["/status", "/status/data"])
def test_without_a_key_the_browser_is_asked_to_log_in(authed: TestClient, path: str) -> None:
    reply = authed.get(path)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith('Basic realm="localai-gateway"')
    assert reply.json()["error"]["type"] == "authentication_error"
    assert authed.get(path, headers=basic("sk-wrong")).status_code == 401


@pytest.mark.parametrize("headers", [basic(TEAM), {"authorization": f"Bearer {TEAM}"}])
def test_a_key_without_admin_is_403(authed: TestClient, headers: dict[str, str]) -> None:
    reply = authed.get("/status", headers=headers)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "admin_required"


def test_basic_auth_is_for_the_status_page_only(authed: TestClient) -> None:
    assert authed.get("/v1/models", headers=basic(ADMIN)).status_code == 401


def test_the_page_is_one_self_contained_html(authed: TestClient) -> None:
    reply = authed.get("/status", headers=basic(ADMIN))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    page = reply.text
    assert "<script>" in page and "<style>" in page and "/status/data" in page
    for external in ("http://", "https://", "<link", "src="):
        assert external not in page


def test_the_data_names_models_and_replicas_never_urls(
    authed: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    for _ in range(3):
        assert (
            authed.post("/v1/chat/completions", json=HELLO, headers=basic(ADMIN)).status_code == 401
        )
        authed.post("/v1/chat/completions", json=HELLO, headers={"authorization": f"Bearer {TEAM}"})
    reply = authed.get("/status/data", headers={"authorization": f"Bearer {ADMIN}"})
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    data = reply.json()
    assert data["status"] == "ready" and data["config"]["version"] == 1
    assert len(data["config"]["registry_sha256"]) == 12 and data["config"]["last_reload"] is None
    chat = next(model for model in data["models"] if model["id"] == "chat-model")
    assert chat["replicas"] == [
        {"name": "localai", "healthy": True, "breaker": "closed", "usable": True, "in_flight": 0}
    ]
    assert chat["rps"] == pytest.approx(3 / 60, abs=0.001)
    assert chat["p50_ms"] is not None and chat["p50_ms"] <= chat["p99_ms"]
    assert LOCALAI not in reply.text and "localai.test" not in reply.text
    assert "sk-upstream-secret" not in reply.text


def test_without_keys_the_page_is_open_as_readyz_details_are(client: TestClient) -> None:
    assert client.get("/status").status_code == 200
    assert client.get("/status/data").json()["gateway"]["in_flight"] == 0
