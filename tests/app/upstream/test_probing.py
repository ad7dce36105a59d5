"""Active health probing: a verdict per upstream, its own connections, panic when all are down."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.settings import Settings
from app.upstream.dispatch import Dispatcher
from clients import Timeouts, UpstreamClient

from .test_dispatch import registry

Answer = int | Exception


def dispatcher_for(answers: dict[str, Answer], seen: list[str] | None = None) -> Dispatcher:
    async def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(f"{request.url.host}{request.url.path}")
        answer = answers[request.url.host]
        if isinstance(answer, Exception):
            raise answer
        if answer == 0:  # a probe that never gets its answer
            await asyncio.sleep(5)
        return httpx.Response(answer)

    client = UpstreamClient(transport=httpx.MockTransport(handler))
    settings = Settings(_env_file=None, health_interval=1)  # type: ignore[call-arg]
    return Dispatcher(client, registry(), settings, probe_client=client)


def health(dispatcher: Dispatcher) -> dict[str, bool]:
    return {url: upstream.healthy for url, upstream in dispatcher.upstreams.items()}


async def test_a_200_is_up_and_anything_else_down() -> None:
    dispatcher = dispatcher_for({"a.test": 503, "b.test": 200})
    await dispatcher.probe_all(1)
    assert health(dispatcher) == {"http://a.test": False, "http://b.test": True}


async def test_an_unreachable_upstream_is_down_and_comes_back() -> None:
    answers: dict[str, Answer] = {"a.test": httpx.ConnectError("refused"), "b.test": 200}
    dispatcher = dispatcher_for(answers)
    await dispatcher.probe_all(1)
    assert not dispatcher.upstreams["http://a.test"].healthy
    answers["a.test"] = 200
    await dispatcher.probe_all(1)
    assert dispatcher.upstreams["http://a.test"].healthy


@pytest.mark.parametrize("status", [404, 405])
async def test_no_health_endpoint_is_not_down_and_is_not_asked_again(status: int) -> None:
    seen: list[str] = []
    dispatcher = dispatcher_for({"a.test": status, "b.test": 200}, seen)
    await dispatcher.probe_all(1)
    await dispatcher.probe_all(1)
    assert health(dispatcher) == {"http://a.test": True, "http://b.test": True}
    assert seen.count("a.test/readyz") == 1 and seen.count("b.test/readyz") == 2


async def test_a_probe_timeout_does_not_take_down_a_replica_that_answers_traffic() -> None:
    dispatcher = dispatcher_for({"a.test": 0, "b.test": 0})
    a, b = dispatcher.upstreams["http://a.test"], dispatcher.upstreams["http://b.test"]
    a.last_success = asyncio.get_running_loop().time()  # a just answered a request
    await dispatcher.probe_all(0.05)
    assert a.healthy and not b.healthy


async def test_models_down_by_probes_alone_are_still_tried() -> None:
    dispatcher = dispatcher_for({"a.test": 503, "b.test": 503})
    await dispatcher.probe_all(1)
    assert health(dispatcher) == {"http://a.test": False, "http://b.test": False}
    replicas = dispatcher.replica_sets["pair"]
    assert replicas.panic() and replicas.pick(set()) is not None
    assert dispatcher.down_models() == [], "panic: probes alone do not make a model down"
    for replica in replicas.replicas:
        for _ in range(5):
            replica.breaker.record(False)
    assert dispatcher.down_models() == ["pair"]  # breakers are per (URL, LocalAI model)


async def test_probes_use_their_own_client() -> None:
    traffic_seen: list[str] = []
    dispatcher = dispatcher_for({"a.test": 200, "b.test": 200}, traffic_seen)
    probe_seen: list[str] = []

    def probe_handler(request: httpx.Request) -> httpx.Response:
        probe_seen.append(request.url.path)
        return httpx.Response(200)

    dispatcher.probe_client = UpstreamClient(
        transport=httpx.MockTransport(probe_handler), timeouts=Timeouts()
    )
    await dispatcher.probe_all(1)
    assert traffic_seen == [] and probe_seen == ["/readyz", "/readyz"]
