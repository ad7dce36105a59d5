"""The lean ASGI path of the hot routes, and the app class that puts it in front of FastAPI.

POSTs to chat and text completions, Responses, Messages and embeddings skip FastAPI's layers
(exception and body-limit middleware, exit stack, router matching, endpoint wrappers: ~30% of
a relayed request's CPU under py-spy) and call their endpoint directly, with the same error
handlers. Every other request goes through the full FastAPI app. The gateway's own middleware
wraps both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ERROR_HANDLERS, handler_for
from .state import Live

HOT_PATHS = frozenset(
    {"/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/responses", "/v1/messages"}
)

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    """Serve POSTs to `HOT_PATHS` by calling their endpoint; hand everything else to `app`.

    A hot endpoint takes the `Request` alone (no dependencies to solve) and returns a Response.
    """

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.routes: dict[str, APIRoute] = {}
        for route in routes:
            if (
                isinstance(route, APIRoute)
                and route.path in HOT_PATHS
                and "POST" in (route.methods or ())
            ):
                if route.dependant.dependencies or route.dependant.body_params:
                    raise TypeError(f"hot route {route.path} must take only the Request")
                self.routes[route.path] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self.routes.get(scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # as the router sets it: metrics and logs name the endpoint
        request = Request(scope, receive, send)
        endpoint: Endpoint = route.endpoint
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await handler_for(exc)(request, exc)
        await response(scope, receive, send)


class GatewayApp(FastAPI):
    """FastAPI, wrapped in the gateway's own pure-ASGI middleware, with the hot routes' path.

    From the outside in: a last-resort 500 handler, then `outer` (first item outermost), then
    `HotRoutes`, then FastAPI's own stack for everything else. Each HTTP request first takes
    the live configuration (`request.state.gateway`) and keeps it to its end.
    """

    def __init__(self, live: Live, *, outer: Sequence[Middleware] = (), **options: Any) -> None:
        super().__init__(**options)
        self.live = live
        self.outer = list(outer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope.setdefault("state", {})["gateway"] = self.live.gateway  # one pointer read
        # What Starlette does, without FastAPI's per-request native-telemetry check (an
        # OpenTelemetry provider lookup): the gateway traces with its own TracingMiddleware
        # when LOCALAI_GATEWAY_OTEL is on.
        if self.root_path:
            scope["root_path"] = self.root_path
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = HotRoutes(super().build_middleware_stack(), self.router.routes)
        last_resort = Middleware(ServerErrorMiddleware, handler=ERROR_HANDLERS[Exception])
        for cls, args, kwargs in reversed([last_resort, *self.outer]):
            app = cls(app, *args, **kwargs)
        return app
