"""SyncLocalAIClient: blocking calls on a private loop, from plain code and from a running loop."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from clients import ChatResponse, SyncLocalAIClient, UpstreamStatusError
from clients._blocking import LoopThread
from tests.support.chunks import chunk, sse_event
from tests.support.fake_localai import FakeLocalAIApp

from .test_localai_errors import Tracked

MESSAGES = [{"role": "user", "content": "hello"}]
MODEL = "qwen3-30b-instruct:q4_k_m"


@pytest.fixture
def fake() -> FakeLocalAIApp:
    return FakeLocalAIApp()


@pytest.fixture
def client(fake: FakeLocalAIApp) -> Iterator[SyncLocalAIClient]:
    transport = httpx.ASGITransport(app=fake)
    with SyncLocalAIClient("http://localai", transport=transport, max_retries=0) as opened:
        yield opened


def test_the_same_methods_blocking(client: SyncLocalAIClient, fake: FakeLocalAIApp) -> None:
    reply = client.chat_completion(MESSAGES, MODEL, max_tokens=5)
    assert isinstance(reply, ChatResponse) and reply.content == "mocked response to: hello"
    assert fake.state.requests[-1]["json"]["max_tokens"] == 5
    vectors = client.create_embeddings(["a", "b"], "text-embedding-ada-002")
    assert len(vectors) == 2 and vectors[0] != vectors[1]
    assert MODEL in [model["id"] for model in client.list_models()]
    assert client.create_speech("hi", "tts-1").startswith(b"RIFF")
    with pytest.raises(UpstreamStatusError) as info:
        client.chat_completion(MESSAGES, "no-such-model")
    assert info.value.status == 404


def test_streams_are_plain_iterators(client: SyncLocalAIClient) -> None:
    pieces = client.chat_completion(MESSAGES, MODEL, stream=True)
    assert "".join(pieces) == "mocked response to: hello"
    with client.stream_chat(MESSAGES, MODEL) as chunks:
        received = list(chunks)
    assert received[0].role == "assistant"
    assert received[-1].usage is not None and received[-1].usage.completion_tokens == 4


async def test_works_inside_a_running_event_loop(client: SyncLocalAIClient) -> None:
    asyncio.get_running_loop()  # as in Jupyter, or sync code called by an async framework
    assert client.chat_completion(MESSAGES, MODEL).content == "mocked response to: hello"
    assert "".join(client.chat_completion(MESSAGES, MODEL, stream=True)).startswith("mocked")


def test_closing_a_stream_early_closes_its_response() -> None:
    body = Tracked([sse_event(chunk("a")), sse_event(chunk("b"))], pause=30)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body)

    with SyncLocalAIClient("http://localai", transport=httpx.MockTransport(handler)) as client:
        with client.stream_chat(MESSAGES, MODEL) as chunks:
            assert next(chunks).content == "a"
        assert body.closed.is_set()
        with pytest.raises(StopIteration):
            next(chunks)


def test_close_is_idempotent_and_use_after_close_is_refused(fake: FakeLocalAIApp) -> None:
    client = SyncLocalAIClient("http://localai", transport=httpx.ASGITransport(app=fake))
    pieces = client.chat_completion(MESSAGES, MODEL, stream=True)
    thread = client._runner._thread
    client.close()
    client.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="This SyncLocalAIClient has been closed"):
        client.chat_completion(MESSAGES, MODEL)
    with pytest.raises(RuntimeError, match="This SyncLocalAIClient has been closed"):
        next(pieces)


def test_a_dropped_client_stops_its_thread(fake: FakeLocalAIApp) -> None:
    client = SyncLocalAIClient("http://localai", transport=httpx.ASGITransport(app=fake))
    client.chat_completion(MESSAGES, MODEL)
    thread = client._runner._thread
    del client
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_the_loop_thread_refuses_to_wait_for_itself() -> None:
    runner = LoopThread("test")

    async def nested() -> None:
        runner.run(asyncio.sleep(0))

    try:
        with pytest.raises(RuntimeError, match="own loop"):
            runner.run(nested())
        assert runner.run(asyncio.sleep(0, "still usable")) == "still usable"
    finally:
        runner.stop()
    assert not runner._thread.is_alive()


def test_one_client_serves_several_threads(client: SyncLocalAIClient) -> None:
    def ask(index: int) -> str:
        return client.chat_completion([{"role": "user", "content": f"n{index}"}], MODEL).content

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(12)))
    assert answers == [f"mocked response to: n{index}" for index in range(12)]
