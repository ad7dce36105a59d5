"""`ModelPool` with a fake loader: lazy loading, LRU bound, idle unload, reload, close."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from clients.llamacpp import LlamaCppModelConfig, LlamaCppPoolConfig, ModelPool

from .conftest import FakeLoader

CONFIG = LlamaCppModelConfig(package="fake")
WAIT = 10.0  # generous bound for anything that happens "soon"


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool_threads:
        yield pool_threads


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader()


def make_pool(executor: ThreadPoolExecutor, loader: FakeLoader, **limits: object) -> ModelPool:
    return ModelPool(
        executor, LlamaCppPoolConfig.model_validate(limits), loader=loader.load, closer=loader.close
    )


@pytest.fixture
async def pool(executor: ThreadPoolExecutor, loader: FakeLoader) -> AsyncIterator[ModelPool]:
    async with make_pool(executor, loader, max_loaded=2, idle_timeout=None) as opened:
        yield opened


async def test_loads_lazily_and_once(pool: ModelPool, loader: FakeLoader) -> None:
    assert loader.loads == []
    first, second = await asyncio.gather(pool.get("a", CONFIG), pool.get("a", CONFIG))
    assert first is second
    assert loader.loads == ["a"]
    assert await pool.get("a", CONFIG) is first
    assert loader.loads == ["a"]


async def test_least_recently_used_is_unloaded_at_the_bound(
    pool: ModelPool, loader: FakeLoader
) -> None:
    a = await pool.get("a", CONFIG)
    await pool.get("b", CONFIG)
    await pool.get("a", CONFIG)  # "b" is now the least recently used
    await pool.get("c", CONFIG)
    assert pool.loaded() == ["a", "c"]
    assert loader.closed == ["b"]
    assert not a.closed


async def test_max_loaded_one_swaps_models(
    executor: ThreadPoolExecutor, loader: FakeLoader
) -> None:
    async with make_pool(executor, loader, max_loaded=1, idle_timeout=None) as pool:
        a = await pool.get("a", CONFIG)
        await pool.get("b", CONFIG)
        assert pool.loaded() == ["b"]
        assert a.closed and a.llama.closed.is_set()


async def test_a_model_in_use_is_unloaded_only_after_release(
    executor: ThreadPoolExecutor, loader: FakeLoader
) -> None:
    async with make_pool(executor, loader, max_loaded=1, idle_timeout=None) as pool:
        a = await pool.acquire("a", CONFIG)
        loading_b = asyncio.create_task(pool.get("b", CONFIG))
        await asyncio.sleep(0.05)
        assert not loading_b.done() and not a.closed
        a.release()
        await asyncio.wait_for(loading_b, WAIT)
        assert a.closed and pool.loaded() == ["b"]


async def test_acquire_after_unload_loads_again(pool: ModelPool, loader: FakeLoader) -> None:
    a = await pool.get("a", CONFIG)
    assert await pool.unload("a")
    assert not await pool.unload("a")
    again = await pool.acquire("a", CONFIG)
    again.release()
    assert again is not a and loader.loads == ["a", "a"]


async def test_a_changed_config_reloads(pool: ModelPool, loader: FakeLoader) -> None:
    a = await pool.get("a", CONFIG)
    bigger = CONFIG.model_copy(update={"n_ctx": 4096})
    assert (await pool.get("a", bigger)).config == bigger
    assert a.closed and loader.loads == ["a", "a"]


async def test_idle_models_are_unloaded(executor: ThreadPoolExecutor, loader: FakeLoader) -> None:
    async with make_pool(executor, loader, max_loaded=2, idle_timeout=0.1) as pool:
        busy = await pool.acquire("busy", CONFIG)
        idle = await pool.get("idle", CONFIG)
        assert await asyncio.to_thread(idle.llama.closed.wait, WAIT)
        assert pool.loaded() == ["busy"]  # a model in use is never idle
        busy.release()
        assert await asyncio.to_thread(busy.llama.closed.wait, WAIT)
        assert pool.loaded() == []


async def test_close_unloads_everything_and_refuses_more(
    executor: ThreadPoolExecutor, loader: FakeLoader
) -> None:
    pool = make_pool(executor, loader, max_loaded=2, idle_timeout=60)
    async with pool:
        await pool.get("a", CONFIG)
        await pool.get("b", CONFIG)
    assert sorted(loader.closed) == ["a", "b"] and pool.loaded() == []
    await pool.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await pool.get("a", CONFIG)
    with pytest.raises(RuntimeError, match="cannot be reopened"):
        await pool.__aenter__()
