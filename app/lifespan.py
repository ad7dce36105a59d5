"""The app's lifespan: load the registry, open the upstream client, close it on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from clients import LocalAIClient

from .dispatch import Dispatcher
from .probing import probe_all, probe_forever
from .registry import Registry, load_registry
from .settings import Settings
from .state import Gateway, Lifecycle

log = logging.getLogger("localai_gateway")


def load_models(settings: Settings) -> Registry:
    """Load and resolve the registry named by the settings; raise `RegistryError` if unusable."""
    path = settings.registry_path
    return Registry.build(
        load_registry(path),
        source=path,
        default_upstream=settings.localai_url,
        timeouts=settings.timeouts,
    )


def open_client(settings: Settings) -> LocalAIClient:
    """Create the upstream client with the configured transport, pool and key."""
    key = settings.localai_api_key
    transport = httpx.AsyncHTTPTransport() if settings.http_transport == "httpx" else None
    return LocalAIClient(
        api_key=key.get_secret_value() if key else None,
        timeouts=settings.timeouts,
        limits=settings.pool_limits,
        transport=transport,
    )


@contextlib.asynccontextmanager
async def health_probes(
    client: LocalAIClient, dispatcher: Dispatcher, settings: Settings
) -> AsyncIterator[None]:
    """Probe every upstream once before serving, then in the background until shutdown."""
    if not settings.health_interval:
        yield
        return
    upstreams = dispatcher.upstreams.values()
    await probe_all(client, upstreams, settings.health_timeout)
    task = asyncio.create_task(
        probe_forever(client, upstreams, settings.health_interval, settings.health_timeout)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def lifespan_for(
    settings: Settings, lifecycle: Lifecycle
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[dict[str, Any]]]:
    """Return the lifespan that owns this app's long-lived objects."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        registry = load_models(settings)
        async with open_client(settings) as client:
            dispatcher = Dispatcher(client, registry, settings)
            async with health_probes(client, dispatcher, settings):
                log.info("serving %d models from %s", len(registry), settings.registry_path)
                yield {
                    "gateway": Gateway(
                        settings=settings,
                        registry=registry,
                        client=client,
                        dispatcher=dispatcher,
                        lifecycle=lifecycle,
                    )
                }

    return lifespan
