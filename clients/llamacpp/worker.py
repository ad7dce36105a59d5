"""Run blocking llama.cpp work in a worker thread while the model's lock is held.

The lock is released by the thread's completion, not by the awaiting task, so a cancelled
request can never free a model that a thread is still using.
"""

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, TypeVar

from .pool import LoadedModel

logger = logging.getLogger(__name__)

Emit = Callable[[Any], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _End:
    """Queued after the last item; `future` holds the worker's outcome."""

    future: Future[None]


def _submit(executor: Executor, entry: LoadedModel, work: Callable[[], Any]) -> Future[Any]:
    """Start `work` in a thread; `entry` (locked by the caller) is released when it ends."""
    loop = asyncio.get_running_loop()
    try:
        future = executor.submit(work)
    except BaseException:
        entry.release()
        raise
    future.add_done_callback(lambda _: loop.call_soon_threadsafe(entry.release))
    return future


async def call_in_worker(
    executor: Executor, entry: LoadedModel, work: Callable[[threading.Event], T]
) -> T:
    """Return `work(stop)` computed in a thread; `stop` is set when the caller is cancelled."""
    stop = threading.Event()
    future = _submit(executor, entry, lambda: work(stop))
    try:
        return await asyncio.wrap_future(future)
    finally:
        stop.set()


async def stream_from_worker(
    executor: Executor, entry: LoadedModel, produce: Callable[[Emit, threading.Event], None]
) -> AsyncGenerator[Any]:
    """Yield what `produce(emit, stop)` emits from a thread, item by item.

    Closing the generator sets `stop` and waits until the thread has ended (so the model's lock
    is free when `aclose()` returns); the thread must check `stop` between items.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def emit(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    future = _submit(executor, entry, lambda: produce(emit, stop))
    future.add_done_callback(lambda done: loop.call_soon_threadsafe(queue.put_nowait, _End(done)))
    ended = False
    try:
        while not isinstance(item := await queue.get(), _End):
            yield item
        ended = True
        item.future.result()
    finally:
        if not ended:
            stop.set()
            await _wait_for_end(queue, entry.model_id)


async def _wait_for_end(queue: asyncio.Queue[Any], model_id: str) -> None:
    """Drop what the stopped thread still emits; log its failure, as nobody is left to tell."""
    while not isinstance(item := await queue.get(), _End):
        pass
    if (error := item.future.exception()) is not None:
        logger.warning(
            "model %r: generation failed after the stream was closed", model_id, exc_info=error
        )
