"""The FastAPI and Starlette internals the gateway copies or leans on, pinned by their source.

`GatewayApp.__call__` and `build_middleware_stack` (app/hot_path.py) repeat what Starlette's do,
minus FastAPI's per-request telemetry check; `HotRoutes` reads `APIRoute.dependant`; and
`SSEResponse` (app/relay/sse.py) sets up its headers as `Response.__init__` does. When an
upgrade changes one of these, this test fails: re-read the gateway's copy against the new
source, then update the fingerprint here.
"""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.responses import Response

from app.main import create_app
from app.settings import Settings

LEANED_ON: dict[str, tuple[Callable[..., Any], str]] = {
    "FastAPI.__call__": (FastAPI.__call__, "7bfeca5aa7d391e3"),
    "Starlette.__call__": (Starlette.__call__, "cfd74d27e67b8ea2"),
    "Starlette.build_middleware_stack": (Starlette.build_middleware_stack, "1fe04053915c23f2"),
    "Response.__init__": (Response.__init__, "71204aa029d0f401"),
    "Response.init_headers": (Response.init_headers, "4817087171d8aa83"),
}


def fingerprint(function: Callable[..., Any]) -> str:
    source = textwrap.dedent(inspect.getsource(function))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(LEANED_ON))
def test_the_source_the_gateway_copies_is_unchanged(name: str) -> None:
    function, expected = LEANED_ON[name]
    assert fingerprint(function) == expected, (
        f"{name} changed in this FastAPI/Starlette release: check app/hot_path.py and "
        "app/relay/sse.py against it, then update its fingerprint in this test"
    )


def test_the_hot_routes_are_plain_api_routes() -> None:
    app = create_app(Settings(localai_url="http://localai.test:8080", _env_file=None))
    routes = {
        route.path: route
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path in ("/v1/chat/completions", "/v1/embeddings")
    }
    assert len(routes) == 2
    for route in routes.values():
        assert {"POST"} <= set(route.methods or ())
        assert route.dependant.dependencies == [] and route.dependant.body_params == []
        assert callable(route.endpoint)
