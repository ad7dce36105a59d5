"""The long-lived objects a request needs, owned by the lifespan and reached via dependencies.

A `Gateway` is one configuration: the registry and the keys read from their files, the
dispatcher's view of them, and the process-wide objects every configuration shares. `Live`
holds the current one; a reload swaps it whole. A request takes `Live.gateway` once, at its
start (`GatewayApp.__call__` puts it into `request.state.gateway`), and keeps it to its end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from .access.auth import KeyRing
from .media.safe_fetch import FetchClient
from .registry import Registry
from .settings import Settings
from .upstream.dispatch import Dispatcher


def no_reload() -> None:
    """What a reload request does before the lifespan starts watching (nothing)."""


async def started_alone() -> None:
    """What a process that is not one of several workers does once started (nothing)."""


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """The last reload attempt: when, whether it was applied, and what it said."""

    at: float  # time.time()
    ok: bool
    message: str


@dataclass
class Lifecycle:
    """Process-wide state that is not configuration: `draining` is set on SIGTERM (when /readyz
    turns 503), `reload` asks for a configuration reload (SIGHUP; safe from a signal handler),
    `last_reload` is the outcome of the last attempt, and `started` is awaited at the end of
    the lifespan's start-up, before the server listens (a worker waits there for the others,
    see app/workers.py)."""

    draining: bool = False
    reload: Callable[[], None] = field(default=no_reload)
    last_reload: ReloadOutcome | None = None
    started: Callable[[], Awaitable[None]] = field(default=started_alone)


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """Which configuration this is: its number (1 at start-up, +1 per applied reload), the
    sha256 of the registry file ("" for the embedded models) and when it was loaded."""

    number: int
    registry_sha256: str
    loaded_at: float  # time.time()


@dataclass(frozen=True, slots=True)
class Gateway:
    """One configuration of this process: settings, registry, keys and the dispatcher (the one
    way to the upstreams), with the process-wide lifecycle and image fetcher."""

    settings: Settings
    registry: Registry
    dispatcher: Dispatcher
    lifecycle: Lifecycle
    image_fetcher: FetchClient  # fetches chat images (SSRF-checked), never upstream
    keys: KeyRing | None = None  # None: auth is off
    version: ConfigVersion = ConfigVersion(1, "", 0.0)


class Live:
    """The configuration new requests take; `gateway` is replaced whole, never changed."""

    __slots__ = ("gateway",)

    def __init__(self) -> None:
        self.gateway: Gateway | None = None  # set while the lifespan runs


async def get_gateway(request: Request) -> Gateway:
    """Dependency: the `Gateway` (configuration) the request took at its start.

    `async` on purpose: FastAPI runs a plain `def` dependency in a worker thread per request.
    """
    gateway: Gateway = request.state.gateway
    return gateway
