"""Fixtures for the typed client: a respx-mocked LocalAI behind httpx's default transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
import respx

from clients import LocalAIClient

BASE = "http://localai:8080"


@pytest.fixture
def localai() -> Iterator[respx.MockRouter]:
    """LocalAI's routes, mocked at httpcore: the client keeps its real default transport."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(localai: respx.MockRouter) -> AsyncIterator[LocalAIClient]:
    """A client without retries (the retry tests make their own) and with a short timeout."""
    async with LocalAIClient(BASE, api_key="sk-test", timeout=5, max_retries=0) as opened:
        yield opened


def sent_json(route: respx.Route) -> dict[str, object]:
    """The JSON body of the last request a route received."""
    body: dict[str, object] = orjson.loads(route.calls.last.request.content)
    return body
