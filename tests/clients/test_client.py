"""UpstreamClient: lifecycle, error mapping over the native HTTP/1.1 pool, phase timeouts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from clients import (
    Timeouts,
    UpstreamClient,
    UpstreamError,
    UpstreamFirstTokenTimeout,
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamUnavailable,
)

FAST = Timeouts(connect=1, first_token=0.3, idle=0.2, total=2)

CHAT = "/v1/chat/completions"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stalling(httpx.AsyncByteStream):
    """A response body that sends `events` and then goes silent."""

    def __init__(self, events: list[bytes], pause: float) -> None:
        self.events = events
        self.pause = pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event
        await asyncio.sleep(self.pause)
        yield b"data: [DONE]\n\n"


class Cut(httpx.AsyncByteStream):
    """A response body that ends after `events`, without [DONE]."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event


def client_for(handler) -> UpstreamClient:  # type: ignore[no-untyped-def]
    return UpstreamClient(timeouts=FAST, transport=httpx.MockTransport(handler))


async def test_refused_connection_is_unavailable_not_a_timeout() -> None:
    async with UpstreamClient(timeouts=FAST) as client:  # the real native pool
        with pytest.raises(UpstreamUnavailable) as info:
            await client.request(
                f"http://127.0.0.1:{closed_port()}", "POST", CHAT, b"{}", model="m"
            )
    assert "127.0.0.1" not in str(info.value)
    assert info.value.retryable


async def test_status_error_carries_normalised_error_and_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": 503, "message": "busy", "type": ""}}
        return httpx.Response(503, json=body, headers={"retry-after": "3"})

    async with client_for(handler) as client:
        with pytest.raises(UpstreamStatusError) as info:
            await client.request("http://u", "POST", CHAT, b"{}", model="m")
    assert info.value.status == 503 and info.value.retry_after == 3.0
    assert info.value.error["message"] == "busy"
    assert info.value.retryable


async def test_400_is_not_retryable() -> None:
    async with client_for(lambda request: httpx.Response(400, json={})) as client:
        with pytest.raises(UpstreamStatusError) as info:
            await client.request("http://u", "POST", CHAT, b"{}", model="m")
    assert not info.value.retryable


async def test_first_token_timeout_on_a_silent_stream() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Stalling([], 5))

    async with (
        client_for(handler) as client,
        client.stream("http://u", CHAT, b"{}", model="m") as events,
    ):
        with pytest.raises(UpstreamFirstTokenTimeout):
            async for _ in events:
                pass


async def test_idle_timeout_after_the_first_event() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Stalling([b'data: {"a":1}\n\n'], 5))

    received = []
    async with (
        client_for(handler) as client,
        client.stream("http://u", CHAT, b"{}", model="m") as events,
    ):
        with pytest.raises(UpstreamIdleTimeout) as info:
            async for batch in events:
                received.append(batch)
    assert received == [[b'{"a":1}']]
    assert not info.value.retryable


async def test_error_event_raises_stream_error() -> None:
    body = b'data: {"error":{"message":"boom","type":"server_error","code":"server_error"}}\n\n'

    async with (
        client_for(lambda request: httpx.Response(200, stream=Stalling([body], 0))) as client,
        client.stream("http://u", CHAT, b"{}", model="m") as events,
    ):
        with pytest.raises(UpstreamStreamError) as info:
            async for _ in events:
                pass
    assert info.value.error["message"] == "boom"


async def test_stream_without_done_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Cut([b'data: {"a":1}\n\n']))

    async with client_for(handler) as client:
        async with client.stream("http://u", CHAT, b"{}", model="m") as events:
            with pytest.raises(UpstreamProtocolError):
                async for _ in events:
                    pass


async def test_health_returns_the_status_of_the_path_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(503, json={"status": "starting"})
        return httpx.Response(404 if request.url.path == "/nope" else 200)

    async with client_for(handler) as client:
        assert await client.health("http://u") == 503
        assert await client.health("http://u", "/health") == 200
        assert await client.health("http://u", "/nope") == 404


async def test_a_request_sends_its_method_path_and_content_type() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})

    async with client_for(handler) as client:
        reply = await client.request("http://u", "GET", "/generated-images/a.png", model="m")
        form = await client.request(
            "http://u",
            "POST",
            "/v1/x",
            b"--b--",
            content_type="multipart/form-data; boundary=b",
            model="m",
        )
    assert reply.content == b"\x89PNG" and reply.content_type == "image/png"
    assert form.status == 200
    assert [(r.method, r.url.path) for r in seen] == [
        ("GET", "/generated-images/a.png"),
        ("POST", "/v1/x"),
    ]
    assert "content-type" not in seen[0].headers
    assert seen[1].headers["content-type"] == "multipart/form-data; boundary=b"
    assert seen[1].content == b"--b--"


async def test_closed_client_refuses_use_and_cannot_reopen() -> None:
    client = client_for(lambda request: httpx.Response(200))
    async with client:
        pass
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await client.request("http://u", "POST", CHAT, b"{}", model="m")
    with pytest.raises(RuntimeError, match="twice"):
        await client.__aenter__()


def test_every_httpx_transport_error_is_mapped() -> None:
    """Each httpx transport exception class becomes an UpstreamError, never escapes raw."""
    from clients._transports.errors import upstream_error

    def leaves(cls: type[Exception]) -> list[type[Exception]]:
        subclasses = cls.__subclasses__()
        return [cls] if not subclasses else [leaf for sub in subclasses for leaf in leaves(sub)]

    for exc_type in leaves(httpx.TransportError):
        for reading in (False, True):
            assert isinstance(
                upstream_error(exc_type("x"), "m", 1.0, reading=reading), UpstreamError
            )


async def test_one_read_brings_one_batch_and_an_error_ends_it_after_its_events() -> None:
    burst = b'data: {"a":1}\n\ndata: {"b":2}\n\ndata: {"error":{"message":"x"}}\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Cut([burst]))

    received = []
    async with client_for(handler) as client:
        async with client.stream("http://u", CHAT, b"{}", model="m") as events:
            with pytest.raises(UpstreamStreamError):
                async for batch in events:
                    received.append(batch)
    assert received == [[b'{"a":1}', b'{"b":2}']]


async def test_done_ends_a_batch_and_what_follows_is_ignored() -> None:
    burst = b'data: {"a":1}\n\ndata: [DONE]\n\ndata: {"late":1}\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Cut([burst]))

    async with client_for(handler) as client:
        async with client.stream("http://u", CHAT, b"{}", model="m") as events:
            assert [batch async for batch in events] == [[b'{"a":1}']]


def bounded_client(handler) -> UpstreamClient:  # type: ignore[no-untyped-def]
    transport = httpx.MockTransport(handler)
    return UpstreamClient(timeouts=FAST, transport=transport, max_read_bytes=64)


async def test_a_body_past_max_read_bytes_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        size = 64 if request.url.path == "/fits" else 65
        return httpx.Response(200, content=b"{" + b" " * (size - 2) + b"}")

    async with bounded_client(handler) as client:
        assert len((await client.request("http://u", "GET", "/fits", model="m")).content) == 64
        with pytest.raises(UpstreamProtocolError, match="larger than 64 bytes"):
            await client.request("http://u", "GET", "/big", model="m")


async def test_an_error_body_past_the_bound_still_raises_its_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "x" * 100}})

    async with bounded_client(handler) as client:
        with pytest.raises(UpstreamStatusError) as info:
            await client.request("http://u", "POST", CHAT, b"{}", model="m")
    assert info.value.status == 503 and info.value.message == "upstream answered 503"


async def test_a_stream_event_past_the_bound_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        event = b'data: {"a":"' + b"x" * 100 + b'"}\n\n'
        return httpx.Response(200, stream=Cut([event[i : i + 10] for i in range(0, 120, 10)]))

    async with bounded_client(handler) as client:
        async with client.stream("http://u", CHAT, b"{}", model="m") as events:
            with pytest.raises(UpstreamProtocolError, match="larger than 64 bytes"):
                async for _ in events:
                    pass
