"""The long-lived objects a request needs, owned by the lifespan and reached via dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from .media.safe_fetch import FetchClient
from .registry import Registry
from .settings import Settings
from .upstream.dispatch import Dispatcher


@dataclass
class Lifecycle:
    """Process-wide flags: `draining` is set on SIGTERM, when /readyz turns 503."""

    draining: bool = False


@dataclass(frozen=True, slots=True)
class Gateway:
    """Settings, registry and the dispatcher (the one way to the upstreams) of this process."""

    settings: Settings
    registry: Registry
    dispatcher: Dispatcher
    lifecycle: Lifecycle
    image_fetcher: FetchClient  # fetches chat images (SSRF-checked), never upstream


async def get_gateway(request: Request) -> Gateway:
    """Dependency: the `Gateway` the lifespan put into the request state.

    `async` on purpose: FastAPI runs a plain `def` dependency in a worker thread per request.
    """
    gateway: Gateway = request.state.gateway
    return gateway
