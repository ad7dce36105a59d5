"""Auth, rate limits and body limits through the real gateway process, seen by the openai SDK."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.servers import REPO_ROOT, FakeLocalAI, free_port, run_process

pytestmark = pytest.mark.integration

GATEWAY = str(Path(sys.executable).parent / "localai-gateway")
CHAT_MODEL = "qwen3-30b-a3b-q4-k-m"
EMBED_MODEL = "qwen3-embedding"
HELLO = [{"role": "user", "content": "hello there"}]
CHAT_KEY, LIMITED_KEY = "sk-chat-only", "sk-two-per-minute"
MAX_BYTES = 64 * 1024


def _entry(name: str, key: str, models: str, extra: str = "") -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"  - {{name: {name}, sha256: {digest}, models: {models}{extra}}}\n"


@pytest.fixture(scope="module")
def gateway(
    _fake_localai_process: FakeLocalAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    keys = tmp_path_factory.mktemp("auth") / "keys.yaml"
    keys.write_text(
        "keys:\n"
        + _entry("chat-team", CHAT_KEY, f"[{CHAT_MODEL}]")
        + _entry("limited", LIMITED_KEY, "'*'", ", rpm: 2")
    )
    port = free_port()
    env = {
        "LOCALAI_GATEWAY_LOCALAI_URL": _fake_localai_process.url,
        "LOCALAI_GATEWAY_REGISTRY": str(REPO_ROOT / "localai_models.yaml"),
        "LOCALAI_GATEWAY_API_KEYS_FILE": str(keys),
        "LOCALAI_GATEWAY_MAX_REQUEST_BYTES": str(MAX_BYTES),
    }
    cmd = [GATEWAY, "serve", "--port", str(port), "--log-level", "warning"]
    with run_process(cmd, env, port=port, ready_path="/readyz"):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def sdk(gateway: str, key: str) -> Iterator[OpenAI]:
    """The openai SDK with `key`, its retries off, closed on exit."""
    with OpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0, timeout=20) as client:
        yield client


def test_valid_key_chats(gateway: str) -> None:
    with sdk(gateway, CHAT_KEY) as client:
        reply = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert reply.choices[0].message.content == "mocked response to: hello there"


def test_wrong_key_is_authentication_error(gateway: str) -> None:
    with sdk(gateway, "sk-nope") as client, pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"
    assert raised.value.response.headers["x-request-id"]


def test_forbidden_model_is_permission_denied(gateway: str) -> None:
    with sdk(gateway, CHAT_KEY) as client:
        with pytest.raises(openai.PermissionDeniedError) as raised:
            client.embeddings.create(model=EMBED_MODEL, input="x")
        assert raised.value.type == "permission_error"
        assert [model.id for model in client.models.list()] == [CHAT_MODEL]
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(EMBED_MODEL)


def test_rate_limit_is_rate_limit_error_with_retry_after(gateway: str) -> None:
    with sdk(gateway, LIMITED_KEY) as client:
        for _ in range(2):
            client.models.list()
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert raised.value.code == "rate_limit_exceeded"
    assert int(raised.value.response.headers["retry-after"]) >= 1
    with sdk(gateway, CHAT_KEY) as other:
        assert other.models.list().data, "other keys are not limited"


def test_oversized_body_is_413(gateway: str) -> None:
    big = [{"role": "user", "content": "x" * (MAX_BYTES + 1)}]
    with sdk(gateway, CHAT_KEY) as client, pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model=CHAT_MODEL, messages=big)
    assert raised.value.status_code == 413
    assert raised.value.code == "request_too_large"


def test_oversized_chunked_body_is_413(gateway: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "' + CHAT_MODEL.encode() + b'", "messages": [], "pad": "'
        for _ in range(MAX_BYTES // 4096 + 1):
            yield b"x" * 4096
        yield b'"}'

    reply = httpx.post(
        f"{gateway}/v1/chat/completions",
        content=chunks(),
        headers={"authorization": f"Bearer {CHAT_KEY}", "content-type": "application/json"},
        timeout=20,
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["code"] == "request_too_large"


def test_probes_need_no_key(gateway: str) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(gateway + path, timeout=10).status_code == 200
