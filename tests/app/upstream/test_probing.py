"""Active health probing through the dispatcher: a verdict per upstream URL."""

from __future__ import annotations

import httpx

from app.settings import Settings
from app.upstream.dispatch import Dispatcher
from clients import UpstreamClient

from .test_dispatch import registry


def dispatcher_for(status_by_host: dict[str, int | Exception]) -> Dispatcher:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = status_by_host[request.url.host]
        if isinstance(answer, Exception):
            raise answer
        assert request.url.path == "/readyz"
        return httpx.Response(answer)

    client = UpstreamClient(transport=httpx.MockTransport(handler))
    return Dispatcher(client, registry(), Settings(_env_file=None))  # type: ignore[call-arg]


async def test_a_200_is_up_anything_else_is_down() -> None:
    dispatcher = dispatcher_for({"a.test": 503, "b.test": 200})
    await dispatcher.probe_all(1)
    assert {url: u.healthy for url, u in dispatcher.upstreams.items()} == {
        "http://a.test": False,
        "http://b.test": True,
    }
    assert dispatcher.down_models() == ["dead"]  # its only replica is a.test


async def test_an_unreachable_upstream_is_down_and_comes_back() -> None:
    answers: dict[str, int | Exception] = {"a.test": httpx.ConnectError("refused"), "b.test": 200}
    dispatcher = dispatcher_for(answers)
    await dispatcher.probe_all(1)
    assert not dispatcher.upstreams["http://a.test"].healthy
    answers["a.test"] = 200
    await dispatcher.probe_all(1)
    assert dispatcher.upstreams["http://a.test"].healthy and dispatcher.down_models() == []
