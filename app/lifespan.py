"""The app's lifespan: load the configuration, open the upstream client, probe the upstreams,
reload the configuration as its files change, and close everything on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from clients import PoolLimits, UpstreamClient
from clients.llamacpp import LlamaCppBackend, LlamaCppPoolConfig

from .configuration import ConfigFiles, load_configuration
from .media.safe_fetch import fetch_client
from .observability.metrics import METRICS
from .registry import Registry
from .reload import Reloader
from .settings import Settings
from .state import ConfigVersion, Gateway, Lifecycle, Live, no_reload
from .upstream.dispatch import Dispatcher

log = logging.getLogger("localai_gateway")


@contextlib.asynccontextmanager
async def llama_cpp_backend(
    registry: Registry, settings: Settings
) -> AsyncIterator[LlamaCppBackend | None]:
    """The in-process backend when some model may run in-process, else None."""
    if all(target.legacy_mode == "off" for target in registry):
        yield None
        return
    limits = LlamaCppPoolConfig(
        max_loaded=settings.legacy_max_loaded, idle_timeout=settings.legacy_idle_timeout
    )
    async with LlamaCppBackend(limits) as backend:
        yield backend


PROBE_CONNECTIONS = 16  # the health probes' own pool: one probe per upstream at a time


def open_client(settings: Settings, limits: PoolLimits | None = None) -> UpstreamClient:
    """Create an upstream client with the configured transport and key, and a pool of its own
    (`limits`, else the traffic pool's)."""
    key = settings.localai_api_key
    transport = httpx.AsyncHTTPTransport() if settings.http_transport == "httpx" else None
    return UpstreamClient(
        api_key=key.get_secret_value() if key else None,
        timeouts=settings.timeouts,
        limits=limits or settings.pool_limits,
        transport=transport,
        max_read_bytes=settings.max_upstream_bytes,
    )


@contextlib.asynccontextmanager
async def health_probes(live: Live, settings: Settings) -> AsyncIterator[None]:
    """Probe every upstream once before serving, then those of the live configuration in the
    background until shutdown."""
    if not settings.health_interval:
        yield
        return
    await current(live).dispatcher.probe_all(settings.health_timeout)

    async def probe_forever(interval: float, limit: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await current(live).dispatcher.probe_all(limit)

    async with background(probe_forever(settings.health_interval, settings.health_timeout)):
        yield


@contextlib.asynccontextmanager
async def reloading(
    live: Live, files: ConfigFiles, settings: Settings, lifecycle: Lifecycle
) -> AsyncIterator[None]:
    """Watch the configuration files (and take SIGHUP's requests) until shutdown."""
    reloader = Reloader(live, files)
    loop = asyncio.get_running_loop()

    def request_reload() -> None:  # from a signal handler: the loop runs the request
        loop.call_soon_threadsafe(reloader.request)

    lifecycle.reload = request_reload
    try:
        async with background(reloader.watch(settings.reload_interval or None)):
            yield
    finally:
        lifecycle.reload = no_reload


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run `work` as a task while the block runs; cancel it after."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def current(live: Live) -> Gateway:
    """The live configuration (set for as long as the lifespan runs)."""
    assert live.gateway is not None, "the lifespan sets the configuration first"
    return live.gateway


def lifespan_for(
    settings: Settings, lifecycle: Lifecycle, live: Live, keys: Path | None
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Return the lifespan that owns this app's long-lived objects and puts the configuration
    (registry and `keys`, None for no auth) into `live`, reloading it as its files change."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        files = ConfigFiles.of(settings, keys)
        loaded = load_configuration(settings, files)
        probe_limits = PoolLimits(max_connections=PROBE_CONNECTIONS)
        async with (
            open_client(settings) as client,
            open_client(settings, probe_limits) as probe_client,
            llama_cpp_backend(loaded.registry, settings) as llama_cpp,
            fetch_client() as image_fetcher,
        ):
            dispatcher = Dispatcher(
                client, loaded.registry, settings, llama_cpp, probe_client=probe_client
            )
            live.gateway = Gateway(
                settings=settings,
                registry=loaded.registry,
                dispatcher=dispatcher,
                lifecycle=lifecycle,
                image_fetcher=image_fetcher,
                keys=loaded.keys,
                version=ConfigVersion(1, loaded.registry_sha256, time.time()),
            )
            METRICS.loaded(ok=True, at=live.gateway.version.loaded_at)
            async with (
                health_probes(live, settings),
                reloading(live, files, settings, lifecycle),
            ):
                if settings.embedded:
                    log.info(
                        "no LocalAI configured (LOCALAI_GATEWAY_LOCALAI_URL and _REGISTRY "
                        "unset): serving the embedded models in-process with llama.cpp"
                    )
                registry = loaded.registry
                log.info("serving %d models: %s", len(registry), ", ".join(registry.ids()))
                await lifecycle.started()
                yield

    return lifespan
