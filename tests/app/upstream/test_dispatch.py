"""The dispatcher: one retry loop, replicas, pins, admission, fallback and the stream's owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from app.errors import NoHealthyUpstream, Overloaded
from app.registry import Registry, RegistryFile
from app.settings import Settings
from app.upstream import endpoints
from app.upstream.breaker import BreakerState
from app.upstream.dispatch import Dispatcher
from app.upstream.open_stream import OpenStream
from app.upstream.payloads import NO_PAYLOAD, JsonPayload
from clients import Timeouts, UpstreamClient, UpstreamStatusError, UpstreamUnavailable

A, B = "http://a.test", "http://b.test"
REGISTRY = f"""
models:
  pair:
    localai_model: pair-upstream
    capabilities: [chat, images]
    upstreams: [{A}, {B}]
  single:
    localai_model: single-upstream
    capabilities: [chat, images]
    upstreams: [{B}]
  once:
    localai_model: once-upstream
    capabilities: [chat]
    upstreams: [{B}]
    retries: 0
  dead:
    localai_model: dead-upstream
    capabilities: [chat]
    upstreams: [{A}]
    fallback: single
  routed:
    localai_model: routed-upstream
    capabilities: [chat]
    upstreams: [{A}, {B}]
    routing: prefix
"""
STREAM = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n\n'

Handler = Callable[[httpx.Request], httpx.Response]


class Body(httpx.AsyncByteStream):
    """A response body that records whether the gateway closed it."""

    def __init__(self, chunks: list[bytes], hang: bool = False) -> None:
        self.chunks = chunks
        self.hang = hang
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.hang:
            await asyncio.sleep(60)

    async def aclose(self) -> None:
        self.closed = True


def settings(**values: Any) -> Settings:
    base = {"retry_backoff": 0.001, "retry_backoff_max": 0.01, "queue_timeout": 0.2}
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


def registry() -> Registry:
    document = RegistryFile.model_validate(yaml.safe_load(REGISTRY))
    return Registry.build(document, source="test", default_upstream=None, timeouts=Timeouts())


@pytest.fixture
def calls() -> list[httpx.Request]:
    return []


def dispatcher_for(handler: Handler, calls: list[httpx.Request], **values: Any) -> Dispatcher:
    def recording(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return handler(request)

    client = UpstreamClient(transport=httpx.MockTransport(recording))
    return Dispatcher(client, registry(), settings(**values))


def refuse_a(request: httpx.Request) -> httpx.Response:
    if request.url.host == "a.test":
        raise httpx.ConnectError("connection refused", request=request)
    return httpx.Response(200, json={"data": [], "model": "x"})


def hosts(calls: list[httpx.Request]) -> list[str]:
    return [request.url.host for request in calls]


async def test_a_refused_replica_is_retried_on_the_other_for_every_endpoint(
    calls: list[httpx.Request],
) -> None:
    dispatcher = dispatcher_for(refuse_a, calls)
    target = dispatcher.registry.get("pair")
    for endpoint in (endpoints.CHAT, endpoints.IMAGES):
        for _ in range(6):
            served = await dispatcher.send(target, endpoint, JsonPayload({"prompt": "x"}))
            assert served.reply.status == 200 and served.replica == 1
    assert "b.test" in hosts(calls)
    assert all(r.url.path in {"/v1/chat/completions", "/v1/images/generations"} for r in calls)


async def test_every_attempt_counts_against_retries_the_first_included(
    calls: list[httpx.Request],
) -> None:
    dispatcher = dispatcher_for(lambda r: httpx.Response(503, json={}), calls, retries=2)
    with pytest.raises(UpstreamStatusError):
        await dispatcher.send(dispatcher.registry.get("single"), endpoints.CHAT, JsonPayload({}))
    assert len(calls) == 3  # the first attempt and two retries
    calls.clear()
    with pytest.raises(UpstreamStatusError):
        await dispatcher.send(dispatcher.registry.get("once"), endpoints.CHAT, JsonPayload({}))
    assert len(calls) == 1  # the model's `retries: 0` wins over the setting


async def test_a_503_once_is_retried_and_answered(calls: list[httpx.Request]) -> None:
    replies = iter([httpx.Response(503, json={}), httpx.Response(200, json={"data": []})])
    dispatcher = dispatcher_for(lambda r: next(replies), calls)
    served = await dispatcher.send(
        dispatcher.registry.get("single"), endpoints.IMAGES, JsonPayload({})
    )
    assert served.reply.status == 200 and len(calls) == 2


async def test_a_retry_after_longer_than_the_deadline_is_not_slept(
    calls: list[httpx.Request],
) -> None:
    dispatcher = dispatcher_for(
        lambda r: httpx.Response(503, json={}, headers={"retry-after": "inf"}), calls
    )
    started = asyncio.get_running_loop().time()
    with pytest.raises(UpstreamStatusError) as info:
        await dispatcher.send(dispatcher.registry.get("single"), endpoints.CHAT, JsonPayload({}))
    assert asyncio.get_running_loop().time() - started < 1
    assert info.value.retry_after == float("inf") and len(calls) == 1


async def test_a_pinned_call_stays_on_its_replica(calls: list[httpx.Request]) -> None:
    dispatcher = dispatcher_for(refuse_a, calls)
    target = dispatcher.registry.get("pair")
    with pytest.raises(UpstreamUnavailable):
        await dispatcher.send(target, endpoints.GENERATED_IMAGE.at("x.png"), NO_PAYLOAD, pin=0)
    assert set(hosts(calls)) == {"a.test"}
    assert {(r.method, r.url.path) for r in calls} == {("GET", "/generated-images/x.png")}
    calls.clear()
    served = await dispatcher.send(target, endpoints.GENERATED_IMAGE.at("y"), NO_PAYLOAD, pin=1)
    assert served.replica == 1 and hosts(calls) == ["b.test"]


async def test_a_pinned_replica_whose_breaker_is_open_is_a_503(calls: list[httpx.Request]) -> None:
    dispatcher = dispatcher_for(refuse_a, calls, breaker_failures=1)
    target = dispatcher.registry.get("pair")
    dispatcher.breakers[A, "pair-upstream"].record(False)
    with pytest.raises(NoHealthyUpstream):
        await dispatcher.send(target, endpoints.GENERATED_IMAGE.at("x.png"), NO_PAYLOAD, pin=0)
    assert calls == []


async def test_fallback_answers_for_a_down_model_but_never_for_a_pin(
    calls: list[httpx.Request],
) -> None:
    dispatcher = dispatcher_for(refuse_a, calls)
    served = await dispatcher.send(dispatcher.registry.get("dead"), endpoints.CHAT, JsonPayload({}))
    assert served.target.id == "single"
    calls.clear()
    with pytest.raises((UpstreamUnavailable, NoHealthyUpstream)):
        await dispatcher.send(
            dispatcher.registry.get("dead"), endpoints.GENERATED_IMAGE.at("f"), NO_PAYLOAD, pin=0
        )
    assert set(hosts(calls)) == {"a.test"}


async def test_every_endpoint_waits_for_admission(calls: list[httpx.Request]) -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json={"data": []})

    client = UpstreamClient(transport=httpx.MockTransport(slow))
    dispatcher = Dispatcher(client, registry(), settings(max_concurrency=1, max_queue=0))
    target = dispatcher.registry.get("single")
    held = asyncio.ensure_future(dispatcher.send(target, endpoints.CHAT, JsonPayload({})))
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded):
        await dispatcher.send(target, endpoints.IMAGES, JsonPayload({}))
    release.set()
    await held
    assert (await dispatcher.send(target, endpoints.IMAGES, JsonPayload({}))).reply.status == 200


def slots(dispatcher: Dispatcher, model: str) -> Iterator[int]:
    """The slots a model's replicas and the gateway still hold."""
    yield dispatcher.admission.limit - dispatcher.admission._slots._value
    for replica in dispatcher.replica_sets[model].replicas:
        yield replica.outstanding


async def open_stream(
    dispatcher: Dispatcher, model: str = "single", routing_key: int | None = None
) -> OpenStream:
    payload = JsonPayload({}, routing_key=routing_key)
    opening = dispatcher.start_stream(dispatcher.registry.get(model), endpoints.CHAT, payload)
    assert await opening.wait(5)
    return opening.task.result()


@pytest.mark.parametrize("ending", ["done", "upstream error", "client gone", "cancelled"])
async def test_a_stream_gives_everything_back_however_it_ends(
    calls: list[httpx.Request], ending: str
) -> None:
    body = Body([STREAM.split(b"\n\n")[0] + b"\n\n"], hang=True)
    if ending == "done":
        body = Body([STREAM])
    dispatcher = dispatcher_for(lambda r: httpx.Response(200, stream=body), calls)
    stream = await open_stream(dispatcher)
    assert list(slots(dispatcher, "single")) == [1, 1]

    async def consume() -> None:
        async with stream:
            async for _ in stream.batches():
                if ending == "client gone":
                    return
            if ending == "upstream error":
                stream.failed()

    if ending == "cancelled":
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    elif ending == "upstream error":
        stream.failed()
        await stream.aclose()
    else:
        await consume()
    assert list(slots(dispatcher, "single")) == [0, 0]
    assert body.closed
    breaker = dispatcher.breakers[B, "single-upstream"]
    assert breaker.state is BreakerState.CLOSED and breaker.available()
    assert list(breaker._outcomes) == ([True, False] if ending == "upstream error" else [True])


async def test_a_committed_opening_is_not_retried() -> None:
    gate = asyncio.Event()
    calls: list[httpx.Request] = []

    async def failing(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await gate.wait()
        return httpx.Response(503, json={})

    client = UpstreamClient(transport=httpx.MockTransport(failing))
    dispatcher = Dispatcher(client, registry(), settings(retries=3))
    opening = dispatcher.start_stream(
        dispatcher.registry.get("single"), endpoints.CHAT, JsonPayload({})
    )
    await asyncio.sleep(0.01)
    opening.commit()
    gate.set()
    assert await opening.wait(5)
    with pytest.raises(UpstreamStatusError):
        opening.task.result()
    assert len(calls) == 1  # retries: 3, but the response had started
    assert list(slots(dispatcher, "single")) == [0, 0]


async def test_a_discarded_opening_closes_the_stream_it_opened(calls: list[httpx.Request]) -> None:
    body = Body([STREAM])
    dispatcher = dispatcher_for(lambda r: httpx.Response(200, stream=body), calls)
    opening = dispatcher.start_stream(
        dispatcher.registry.get("single"), endpoints.CHAT, JsonPayload({})
    )
    assert await opening.wait(5)
    await opening.discard()
    assert body.closed and list(slots(dispatcher, "single")) == [0, 0]


def key_led_by(dispatcher: Dispatcher, host: str) -> int:
    """A routing key whose walk on the `routed` model's ring starts at `host`."""
    ring = dispatcher.replica_sets["routed"].ring
    assert ring is not None
    return next(k for k in range(0, 2**64, 2**58) if host in ring.order(k)[0].url)


@pytest.mark.parametrize("host", ["a.test", "b.test"])
async def test_a_routing_key_keeps_whole_replies_and_streams_on_its_replica(
    calls: list[httpx.Request], host: str
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:  # whole replies and streams alternate
        if len(calls) % 2:
            return httpx.Response(200, json={})
        return httpx.Response(200, stream=Body([STREAM]))

    dispatcher = dispatcher_for(reply, calls)
    key = key_led_by(dispatcher, host)
    target = dispatcher.registry.get("routed")
    for _ in range(5):
        await dispatcher.send(target, endpoints.CHAT, JsonPayload({}, routing_key=key))
        async with await open_stream(dispatcher, "routed", routing_key=key):
            pass
    assert hosts(calls) == [host] * 10


async def test_a_keyed_call_retries_on_the_next_replica_of_the_ring(
    calls: list[httpx.Request],
) -> None:
    dispatcher = dispatcher_for(refuse_a, calls)
    key = key_led_by(dispatcher, "a.test")
    target = dispatcher.registry.get("routed")
    served = await dispatcher.send(target, endpoints.CHAT, JsonPayload({}, routing_key=key))
    assert served.replica == 1 and hosts(calls) == ["a.test", "b.test"]
