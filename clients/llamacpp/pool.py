"""Loaded in-process models: lazy load, per-model lock, LRU bound and idle unload."""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from .config import DEFAULT_POOL, LlamaCppModelConfig, LlamaCppPoolConfig
from .runtime import close_llama, load_llama

logger = logging.getLogger(__name__)

Loader = Callable[[str, LlamaCppModelConfig], Any]
Closer = Callable[[Any], None]

# The reaper looks for idle models this many times per idle timeout, within these bounds (s).
_REAP_CHECKS_PER_TIMEOUT = 4
_REAP_INTERVAL_BOUNDS = (0.05, 30.0)


@dataclass(eq=False)
class LoadedModel:
    """One loaded model. Hold `lock` while using `llama`: llama.cpp contexts are not thread-safe."""

    model_id: str
    config: LlamaCppModelConfig
    llama: Any
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    closed: bool = False

    def release(self) -> None:
        """Give the lock back after a use; the model counts as used now."""
        self.last_used = time.monotonic()
        self.lock.release()


class ModelPool:
    """Loads models on first use and keeps at most `max_loaded`, unloading the least recent first.

    Use as `async with ModelPool(...) as pool:` so the idle reaper runs; `acquire()` returns a
    model with its lock held, and the caller must `release()` it.
    """

    def __init__(
        self,
        executor: Executor,
        limits: LlamaCppPoolConfig = DEFAULT_POOL,
        *,
        loader: Loader = load_llama,
        closer: Closer = close_llama,
    ) -> None:
        self._executor = executor
        self._limits = limits
        self._loader = loader
        self._closer = closer
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()  # least recently used first
        self._admission = asyncio.Lock()  # one load (with its evictions) at a time
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        if self._closed:
            raise RuntimeError("A closed ModelPool cannot be reopened; create a new one.")
        if self._limits.idle_timeout is not None and self._reaper is None:
            self._reaper = asyncio.create_task(self._reap(self._limits.idle_timeout))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def loaded(self) -> list[str]:
        """Ids of the loaded models, least recently used first."""
        return list(self._models)

    async def get(self, model_id: str, config: LlamaCppModelConfig) -> LoadedModel:
        """Return the loaded model, loading it first (and evicting others) when needed."""
        while True:
            self._check_open()
            entry = self._models.get(model_id)
            if entry is not None and entry.config == config:
                self._models.move_to_end(model_id)
                return entry
            async with self._admission:
                self._check_open()
                entry = self._models.get(model_id)
                if entry is not None and entry.config != config:
                    await self._evict(entry)  # the registry changed the model's config
                elif entry is None:
                    return await self._load(model_id, config)

    async def acquire(self, model_id: str, config: LlamaCppModelConfig) -> LoadedModel:
        """Return the loaded model with its lock held; the caller must call `release()`."""
        while True:
            entry = await self.get(model_id, config)
            await entry.lock.acquire()
            if not entry.closed:
                entry.last_used = time.monotonic()
                return entry
            entry.lock.release()  # unloaded while we waited: load it again

    async def unload(self, model_id: str) -> bool:
        """Unload a model once its current use ends; False when it was not loaded."""
        entry = self._models.get(model_id)
        if entry is None:
            return False
        await self._evict(entry)
        return True

    async def aclose(self) -> None:
        """Stop the reaper and unload every model, waiting for uses in progress. Idempotent."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        async with self._admission:
            for entry in list(self._models.values()):
                await self._evict(entry)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("The model pool is closed; no model can be loaded from it.")

    async def _load(self, model_id: str, config: LlamaCppModelConfig) -> LoadedModel:
        while len(self._models) >= self._limits.max_loaded:
            await self._evict(self._victim())
        loop = asyncio.get_running_loop()
        llama = await loop.run_in_executor(self._executor, self._loader, model_id, config)
        entry = LoadedModel(model_id, config, llama)
        self._models[model_id] = entry
        logger.info("model %r loaded in-process (%d loaded)", model_id, len(self._models))
        return entry

    def _victim(self) -> LoadedModel:
        """The least recently used model not in use, else the least recently used one."""
        idle = (entry for entry in self._models.values() if not entry.lock.locked())
        return next(idle, None) or next(iter(self._models.values()))

    async def _evict(self, entry: LoadedModel) -> None:
        if self._models.get(entry.model_id) is entry:
            del self._models[entry.model_id]  # no new user can get it from now on
        async with entry.lock:  # wait for the use in progress
            if entry.closed:
                return
            entry.closed = True
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._closer, entry.llama)
        logger.info("model %r unloaded (%d loaded)", entry.model_id, len(self._models))

    async def _reap(self, idle_timeout: float) -> None:
        low, high = _REAP_INTERVAL_BOUNDS
        interval = min(max(idle_timeout / _REAP_CHECKS_PER_TIMEOUT, low), high)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for entry in list(self._models.values()):
                if not entry.lock.locked() and now - entry.last_used >= idle_timeout:
                    try:
                        await self._evict(entry)
                    except Exception:
                        logger.exception("model %r: unloading after idle failed", entry.model_id)
