"""LocalAIClient's failures: the error tree, LocalAI's error bodies, retries, deadlines, bounds,
and streams that close their response however they end."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

import clients._retry
from clients import (
    LocalAIClient,
    Timeouts,
    UpstreamFirstTokenTimeout,
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamTotalTimeout,
    UpstreamUnavailable,
)
from tests.support.chunks import chunk, localai_chat, sse, sse_event, stream

from .conftest import BASE

MESSAGES = [{"role": "user", "content": "hello"}]
MODEL = "qwen3"
CHAT = "/v1/chat/completions"
NOT_FOUND = {
    "error": {
        "code": 404,
        "message": 'model "qwen4" not found. To see available models, call GET /v1/models',
        "type": "",
    }
}


async def status_error(client: LocalAIClient) -> UpstreamStatusError:
    with pytest.raises(UpstreamStatusError) as info:
        await client.chat_completion(MESSAGES, MODEL)
    return info.value


async def test_localai_404_with_an_integer_code(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    localai.post(CHAT).respond(404, json=NOT_FOUND)
    error = await status_error(client)
    assert error.status == 404 and error.code is None and not error.retryable
    assert error.message == NOT_FOUND["error"]["message"]
    assert error.error["type"] == "invalid_request_error"


async def test_gateway_404_carries_its_code_and_a_5xx_is_told_apart_without_strings(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    body = {"error": {"message": "no", "type": "invalid_request_error", "code": "model_not_found"}}
    route = localai.post(CHAT).respond(404, json=body)
    missing = await status_error(client)
    route.respond(500, json={"error": {"code": 500, "message": "backend crashed", "type": ""}})
    failing = await status_error(client)
    assert (missing.status, missing.code) == (404, "model_not_found")
    assert (failing.status, failing.code, failing.message) == (500, None, "backend crashed")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {"error": {"code": 400, "message": "code=400, message=bad body", "type": ""}},
            "bad body",
        ),
        (
            422,
            "top_n - should be greater than or equal to 1",
            "top_n - should be greater than or equal to 1",
        ),
        (503, None, "upstream answered 503"),
    ],
    ids=["echo-prefix", "bare-string", "empty-body"],
)
async def test_every_localai_error_body_gives_a_message(
    client: LocalAIClient, localai: respx.MockRouter, status: int, body: object, message: str
) -> None:
    localai.post(CHAT).respond(status, json=body) if body else localai.post(CHAT).respond(status)
    error = await status_error(client)
    assert (error.status, error.message) == (status, message)


async def test_the_http_200_error_event_ends_a_stream_after_its_chunks(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    error = {"message": "simulated failure", "type": "server_error", "code": "server_error"}
    body = sse(stream(["a", "b"], finish=None), error=error)
    route = localai.post(CHAT).respond(content=body)
    pieces: list[str] = []
    with pytest.raises(UpstreamStreamError) as info:
        async for piece in await client.chat_completion(MESSAGES, MODEL, stream=True):
            pieces.append(piece)
    assert pieces == ["a", "b"]
    assert info.value.error["message"] == "simulated failure" and not isinstance(
        info.value, UpstreamStatusError
    )
    assert route.call_count == 1


@pytest.mark.parametrize(
    "body",
    [sse_event(chunk("a")), sse_event(chunk("a")) + b"data: not json\n\n"],
    ids=["no-done", "malformed-event"],
)
async def test_a_broken_stream_is_a_protocol_error(
    client: LocalAIClient, localai: respx.MockRouter, body: bytes
) -> None:
    localai.post(CHAT).respond(content=body)
    received = []
    async with client.stream_chat(MESSAGES, MODEL) as chunks:
        with pytest.raises(UpstreamProtocolError):
            async for item in chunks:
                received.append(item.content)
    assert received == ["a"]


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>proxy</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json={"object": "chat.completion", "choices": []}),
        httpx.Response(200, content=b'{"choices": [', headers={"content-type": "application/json"}),
    ],
    ids=["not-json", "no-choices", "truncated"],
)
async def test_an_unreadable_reply_is_a_protocol_error(
    client: LocalAIClient, localai: respx.MockRouter, reply: httpx.Response
) -> None:
    localai.post(CHAT).mock(return_value=reply)
    with pytest.raises(UpstreamProtocolError):
        await client.chat_completion(MESSAGES, MODEL)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits of the retry loop, recorded instead of slept."""
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(clients._retry, "sleep", sleep)
    return recorded


@pytest.fixture
async def retrying(localai: respx.MockRouter) -> AsyncIterator[LocalAIClient]:
    async with LocalAIClient(BASE, timeout=30, max_retries=3) as opened:
        yield opened


async def test_retries_honour_retry_after_then_succeed(
    retrying: LocalAIClient, localai: respx.MockRouter, waits: list[float]
) -> None:
    route = localai.post(CHAT)
    route.side_effect = [
        httpx.Response(503, headers={"retry-after": "2"}),
        httpx.Response(429, json={"error": {"message": "slow down"}}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=localai_chat(MODEL, "finally")),
    ]
    assert (await retrying.chat_completion(MESSAGES, MODEL)).content == "finally"
    assert route.call_count == 4
    assert waits[0] >= 2.0, "Retry-After honoured"
    assert 0.25 <= waits[1] <= 1.0 and 0.5 <= waits[2] <= 2.0, "exponential backoff with jitter"


async def test_retries_stop_after_max_retries(
    retrying: LocalAIClient, localai: respx.MockRouter, waits: list[float]
) -> None:
    route = localai.post(CHAT).respond(502)
    with pytest.raises(UpstreamStatusError):
        await retrying.chat_completion(MESSAGES, MODEL)
    assert route.call_count == 4 and len(waits) == 3


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_client_errors_and_500_are_not_retried(
    retrying: LocalAIClient, localai: respx.MockRouter, waits: list[float], status: int
) -> None:
    route = localai.post(CHAT).respond(status)
    await status_error(retrying)
    assert route.call_count == 1 and waits == []


async def test_a_retry_after_past_the_deadline_is_not_waited_for(
    localai: respx.MockRouter, waits: list[float]
) -> None:
    route = localai.post(CHAT).respond(503, headers={"retry-after": "5"})
    async with LocalAIClient(BASE, timeout=2, max_retries=3) as client:
        error = await status_error(client)
    assert route.call_count == 1 and error.retry_after == 5.0


async def test_a_stream_is_retried_while_it_opens_never_once_it_started(
    retrying: LocalAIClient, localai: respx.MockRouter, waits: list[float]
) -> None:
    route = localai.post(CHAT)
    route.side_effect = [httpx.Response(503), httpx.Response(200, content=sse(stream(["ok"])))]
    assert [p async for p in await retrying.chat_completion(MESSAGES, MODEL, stream=True)] == ["ok"]
    assert route.call_count == 2
    route.side_effect = None
    route.respond(content=sse_event(chunk("cut")))
    with pytest.raises(UpstreamProtocolError):
        async for _ in await retrying.chat_completion(MESSAGES, MODEL, stream=True):
            pass
    assert route.call_count == 3


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_server_is_unavailable_and_names_no_url() -> None:
    async with LocalAIClient(f"http://127.0.0.1:{closed_port()}", max_retries=0) as client:
        with pytest.raises(UpstreamUnavailable) as info:
            await client.chat_completion(MESSAGES, MODEL)
    assert "127.0.0.1" not in str(info.value) and info.value.model == MODEL


class Tracked(httpx.AsyncByteStream):
    """A streamed body that sends `events`, then waits `pause` s, and records its closing."""

    def __init__(self, events: list[bytes], pause: float = 0.0) -> None:
        self.events = events
        self.pause = pause
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event
        await asyncio.sleep(self.pause)
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        self.closed.set()


def client_over(body: Tracked, timeout: float | Timeouts = 5, delay: float = 0) -> LocalAIClient:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay)
        return httpx.Response(200, stream=body)

    return LocalAIClient(BASE, timeout=timeout, transport=httpx.MockTransport(handler))


async def test_phase_timeouts() -> None:
    phases = Timeouts(connect=1, first_token=0.2, idle=0.2, total=5)
    async with client_over(Tracked([], pause=5), phases) as client:
        with pytest.raises(UpstreamFirstTokenTimeout):
            async for _ in await client.chat_completion(MESSAGES, MODEL, stream=True):
                pass
    async with client_over(Tracked([sse_event(chunk("a"))], pause=5), phases) as client:
        with pytest.raises(UpstreamIdleTimeout):
            async for _ in await client.chat_completion(MESSAGES, MODEL, stream=True):
                pass
    async with client_over(Tracked([]), timeout=0.2, delay=5) as client:
        with pytest.raises(UpstreamTotalTimeout, match=r"within 0\.2s"):
            await client.chat_completion(MESSAGES, MODEL)


async def test_reads_are_bounded(localai: respx.MockRouter) -> None:
    localai.post(CHAT).respond(json=localai_chat(MODEL, "x" * 500))
    async with LocalAIClient(BASE, max_read_bytes=200) as client:
        with pytest.raises(UpstreamProtocolError, match="larger than 200 bytes"):
            await client.chat_completion(MESSAGES, MODEL)


@pytest.mark.parametrize("ending", ["aclose", "async-with", "dropped"])
async def test_a_stream_closes_its_response_however_it_ends(ending: str) -> None:
    body = Tracked([sse_event(chunk("a")), sse_event(chunk("b"))], pause=30)
    async with client_over(body) as client:
        if ending == "async-with":
            async with client.stream_chat(MESSAGES, MODEL) as chunks:
                await anext(chunks)
            assert body.closed.is_set(), "closed on exit, not later by the garbage collector"
        else:
            pieces = await client.chat_completion(MESSAGES, MODEL, stream=True)
            assert await anext(pieces) == "a"
            if ending == "aclose":
                await pieces.aclose()
            else:
                del pieces
                gc.collect()  # the loop's async-generator finalizer schedules the close
                await asyncio.wait_for(body.closed.wait(), 2)
        assert body.closed.is_set()


async def test_a_stream_opened_but_never_read_is_closed_when_dropped() -> None:
    body = Tracked([sse_event(chunk("a"))], pause=30)
    async with client_over(body) as client:
        pieces = await client.chat_completion(MESSAGES, MODEL, stream=True)
        del pieces
        gc.collect()
        await asyncio.wait_for(body.closed.wait(), 2)


async def test_closing_the_client_closes_its_open_streams_outermost_first() -> None:
    """Left to the loop's shutdown, nested stream generators close in any order, and Python
    3.11's contextlib then raises "generator didn't stop after athrow()"."""
    body = Tracked([sse_event(chunk("a")), sse_event(chunk("b"))], pause=30)
    client = client_over(body)
    pieces = await client.chat_completion(MESSAGES, MODEL, stream=True)
    chunks = await client.stream_chat(MESSAGES, MODEL)
    assert await anext(pieces) == "a"
    await client.aclose()
    assert body.closed.is_set()
    for opened in (pieces, chunks):
        with pytest.raises(StopAsyncIteration):
            await anext(opened)


async def test_lifecycle(localai: respx.MockRouter) -> None:
    localai.post(CHAT).respond(json=localai_chat(MODEL))
    client = LocalAIClient(BASE)
    await client.chat_completion(MESSAGES, MODEL)  # usable without `async with`
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="This LocalAIClient has been closed; create a new one"):
        await client.chat_completion(MESSAGES, MODEL)
    with pytest.raises(RuntimeError, match="closed"):
        await client.stream_chat(MESSAGES, MODEL)
    with pytest.raises(RuntimeError, match="closed"):
        await client.__aenter__()
