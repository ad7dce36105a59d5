"""The worker bridge: results, errors, stop on cancel/close, and the lock freed only at the end."""

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from clients.llamacpp import LlamaCppModelConfig, LoadedModel
from clients.llamacpp.worker import Emit, call_in_worker, stream_from_worker

WAIT = 10.0


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as threads:
        yield threads


async def locked_entry() -> LoadedModel:
    entry = LoadedModel("m", LlamaCppModelConfig(package="fake"), llama=None)
    await entry.lock.acquire()
    return entry


async def test_call_returns_and_releases(executor: ThreadPoolExecutor) -> None:
    entry = await locked_entry()
    assert await call_in_worker(executor, entry, lambda stop: 42) == 42
    await asyncio.sleep(0)  # the release is scheduled from the thread
    assert not entry.lock.locked()


async def test_call_raises_the_worker_error(executor: ThreadPoolExecutor) -> None:
    entry = await locked_entry()

    def fail(stop: threading.Event) -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await call_in_worker(executor, entry, fail)


async def test_cancelling_a_call_stops_the_worker_and_then_frees_the_lock(
    executor: ThreadPoolExecutor,
) -> None:
    entry = await locked_entry()
    started, may_finish = threading.Event(), threading.Event()

    def work(stop: threading.Event) -> None:
        started.set()
        assert stop.wait(WAIT)
        assert may_finish.wait(WAIT)

    task = asyncio.create_task(call_in_worker(executor, entry, work))
    await asyncio.to_thread(started.wait, WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert entry.lock.locked()  # the thread still runs: the model stays locked
    may_finish.set()
    async with asyncio.timeout(WAIT):
        async with entry.lock:
            pass


def counting(emit: Emit, stop: threading.Event) -> None:
    """Emit numbers until stopped (bounded, so a broken stop cannot hang the suite)."""
    for number in range(100_000):
        if stop.is_set():
            return
        emit(number)
        stop.wait(0.001)
    raise AssertionError("never stopped")


async def test_stream_yields_in_order_and_ends(executor: ThreadPoolExecutor) -> None:
    entry = await locked_entry()

    def three(emit: Emit, stop: threading.Event) -> None:
        for number in range(3):
            emit(number)

    assert [item async for item in stream_from_worker(executor, entry, three)] == [0, 1, 2]
    assert not entry.lock.locked()


async def test_stream_raises_the_worker_error(executor: ThreadPoolExecutor) -> None:
    entry = await locked_entry()

    def fail(emit: Emit, stop: threading.Event) -> None:
        emit("first")
        raise KeyError("boom")

    items = []
    with pytest.raises(KeyError, match="boom"):
        async for item in stream_from_worker(executor, entry, fail):
            items.append(item)
    assert items == ["first"]


async def test_closing_a_stream_stops_the_worker_and_frees_the_lock(
    executor: ThreadPoolExecutor,
) -> None:
    entry = await locked_entry()
    stream = stream_from_worker(executor, entry, counting)
    assert [await anext(stream) for _ in range(3)] == [0, 1, 2]
    await asyncio.wait_for(stream.aclose(), WAIT)
    assert not entry.lock.locked()


async def test_cancelling_a_stream_consumer_stops_the_worker(executor: ThreadPoolExecutor) -> None:
    entry = await locked_entry()
    seen = asyncio.Event()

    async def consume() -> None:
        async for _ in stream_from_worker(executor, entry, counting):
            seen.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not entry.lock.locked()
