"""Body and chat limits (413/400) and per-key rate limits (429), in memory and in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from starlette.types import Receive, Scope, Send

from app.access.auth import ApiKey, AuthMiddleware, KeyRing
from app.access.limits import data_uri_bytes
from app.access.ratelimit import Buckets, MemoryBuckets, RateLimitMiddleware, RedisBuckets
from app.main import create_app
from app.observability import Metrics, ObservabilityMiddleware, record_of
from app.settings import Settings
from tests.support.chunks import localai_chat
from tests.support.redis_server import redis_server
from tests.support.servers import free_port

CHAT = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def small(settings: Settings, localai: respx.MockRouter) -> Iterator[TestClient]:
    update = {"max_request_bytes": 1000, "max_messages": 3, "max_image_bytes": 300}
    with TestClient(create_app(settings.model_copy(update=update))) as client:
        yield client


def test_content_length_over_limit_is_413(small: TestClient) -> None:
    reply = small.post("/v1/chat/completions", content=b"{" + b" " * 1000 + b"}")
    assert reply.status_code == 413
    error = reply.json()["error"]
    assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error"
    assert reply.headers["x-request-id"]


def test_streamed_body_over_limit_is_413(small: TestClient) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(5):
            yield b" " * 300

    reply = small.post("/v1/chat/completions", content=body())
    assert reply.status_code == 413


def test_body_at_the_limit_passes(small: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    raw = httpx.Request("POST", "/", json=CHAT).content
    padded = raw[:-1] + b" " * (1000 - len(raw)) + b"}"
    reply = small.post("/v1/chat/completions", content=padded)
    assert len(padded) == 1000 and reply.status_code == 200


def test_too_many_messages_is_400(small: TestClient) -> None:
    body = {**CHAT, "messages": CHAT["messages"] * 4}
    reply = small.post("/v1/chat/completions", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "too_many_messages"


def image_message(url: str) -> dict[str, Any]:
    part = {"type": "image_url", "image_url": {"url": url}}
    return {"role": "user", "content": [{"type": "text", "text": "see"}, part]}


def test_inline_image_over_limit_is_400(small: TestClient) -> None:
    url = "data:image/png;base64," + "A" * 404  # 303 bytes decoded
    reply = small.post("/v1/chat/completions", json={**CHAT, "messages": [image_message(url)]})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "image_too_large"
    assert error["param"] == "messages[0].content[1].image_url"


def test_data_uri_size() -> None:
    assert data_uri_bytes("data:image/png;base64," + "A" * 400) == 300
    assert data_uri_bytes("https://example.com/cat.png") == 0


# Rate limits: a raw ASGI app that reports `tokens` usage, behind observability and auth.

KEY = ApiKey(name="team", sha256="", models=None)


def limited_app(key: ApiKey, buckets: Buckets, metrics: Metrics) -> Any:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        record = record_of(scope)
        assert record is not None
        record.tokens_in = int(scope["query_string"] or 0)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    ring = KeyRing([key])
    ring.find = lambda presented: key  # type: ignore[method-assign]
    app = RateLimitMiddleware(inner, buckets, metrics)
    return with_keys(ObservabilityMiddleware(AuthMiddleware(app), metrics), ring)


def with_keys(app: Any, ring: KeyRing) -> Any:
    """`app` with a configuration holding `ring` in the request state, as GatewayApp puts it."""

    async def configured(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = {"gateway": SimpleNamespace(keys=ring)}
        await app(scope, receive, send)

    return configured


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


async def call(app: Any, tokens: int = 0) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(f"/?{tokens}", headers={"x-api-key": "k"})


async def test_rpm_refuses_with_retry_after(metrics: Metrics) -> None:
    app = limited_app(ApiKey("team", "", None, rpm=2), MemoryBuckets(), metrics)
    assert [(await call(app)).status_code for _ in range(2)] == [200, 200]
    refused = await call(app)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.headers["retry-after"] == "30"  # one request refills in 60/2 s
    sample = {"key": "team", "limit": "rpm"}
    assert metrics.registry.get_sample_value("localai_gateway_rate_limited_total", sample) == 1


async def test_tpm_charges_reply_tokens_after_the_fact(metrics: Metrics) -> None:
    app = limited_app(ApiKey("team", "", None, tpm=600), MemoryBuckets(), metrics)
    assert (await call(app, tokens=500)).status_code == 200
    assert (await call(app, tokens=200)).status_code == 200, "not in debt yet: admitted"
    refused = await call(app)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"  # 100 tokens of debt at 10 tokens/s
    assert "tokens per minute" in refused.json()["error"]["message"]


async def test_buckets_refill_over_time() -> None:
    buckets = MemoryBuckets()
    assert await buckets.take("b", 60, 60) == 0
    assert await buckets.take("b", 60, 1) == pytest.approx(1, abs=0.05)
    level, last = buckets._levels["b"]
    buckets._levels["b"] = (level, last - 2)  # two seconds later: two requests' worth
    assert await buckets.take("b", 60, 2) == 0


async def test_unlimited_keys_pass(metrics: Metrics) -> None:
    app = limited_app(KEY, MemoryBuckets(), metrics)
    assert [(await call(app)).status_code for _ in range(5)] == [200] * 5


# Redis: a real redis-server, started and stopped by the test.


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[tuple[RedisBuckets, RedisBuckets]]:
    first, second = RedisBuckets(redis_url), RedisBuckets(redis_url)
    await first._redis.flushdb()
    yield first, second
    await first.aclose()
    await second.aclose()


async def test_redis_buckets_are_shared_by_replicas(
    shared: tuple[RedisBuckets, RedisBuckets],
) -> None:
    first, second = shared
    assert await first.take("team:rpm", 2, 1) == 0
    assert await second.take("team:rpm", 2, 1) == 0
    assert await first.take("team:rpm", 2, 1) == pytest.approx(30, abs=0.5)
    assert await second.take("other:rpm", 2, 1) == 0


async def test_redis_tpm_debt_and_forced_charge(
    shared: tuple[RedisBuckets, RedisBuckets],
) -> None:
    first, second = shared
    assert await first.take("team:tpm", 600, 700, force=True) == 0
    assert await second.take("team:tpm", 600, 0) == pytest.approx(10, abs=0.5)


async def test_redis_limits_through_the_middleware(redis_url: str, metrics: Metrics) -> None:
    buckets = RedisBuckets(redis_url)
    await buckets._redis.flushdb()
    app = limited_app(ApiKey("team", "", None, rpm=1), buckets, metrics)
    try:
        assert (await call(app)).status_code == 200
        assert (await call(app)).status_code == 429
    finally:
        await buckets.aclose()


async def test_redis_down_lets_requests_through(
    metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    buckets = RedisBuckets(f"redis://127.0.0.1:{free_port()}/0")
    app = limited_app(ApiKey("team", "", None, rpm=1), buckets, metrics)
    try:
        assert [(await call(app)).status_code for _ in range(2)] == [200, 200]
    finally:
        await buckets.aclose()
    assert "rate limit store failed" in caplog.text


async def test_tpm_charges_the_prompt_on_admission(metrics: Metrics) -> None:
    """A client that leaves before any usage is reported still pays for its prompt."""
    app = limited_app(ApiKey("team", "", None, tpm=100), MemoryBuckets(), metrics)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        first = await client.post("/", content=b"x" * 800, headers={"x-api-key": "k"})
        second = await client.post("/", content=b"x", headers={"x-api-key": "k"})
    assert first.status_code == 200
    assert second.status_code == 429, "800 bytes of prompt ~ 200 tokens, over the 100 tpm"


async def test_tpm_settles_the_estimate_against_the_reported_usage(metrics: Metrics) -> None:
    buckets = MemoryBuckets()
    app = limited_app(ApiKey("team", "", None, tpm=100), buckets, metrics)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        reply = await client.post("/?10", content=b"x" * 200, headers={"x-api-key": "k"})
    assert reply.status_code == 200
    # charged 50 on admission, settled to the 10 reported: 90 of 100 are left
    assert await buckets.take("team:tpm", 100, 91) > 0
    assert await buckets.take("team:tpm", 100, 90) == 0
