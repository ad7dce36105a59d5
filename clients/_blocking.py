"""Blocking access to async code: an event loop on a private thread.

`asyncio.run` per call fails where the calling thread already runs a loop (Jupyter, an async
framework calling sync code) and cannot keep a connection pool between calls; a loop of our
own on its own thread does both.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class LoopThread:
    """An event loop running on a daemon thread; `run` waits for a coroutine run there.

    `owner` names the object the loop serves, in the thread's name and in errors.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=owner, daemon=True)
        self._thread.start()
        self._stopped = False

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and return its result; an interrupt cancels it."""
        if self._stopped:
            coroutine.close()
            raise RuntimeError(f"This {self.owner} has been closed; create a new one.")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError(
                "A blocking client method was called from a coroutine on the client's own loop."
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # KeyboardInterrupt while waiting: stop the work as well
            raise

    def stop(self) -> None:
        """Finish the loop's pending work (open streams close), stop it and join the thread."""
        if self._stopped:
            return
        self.run(_finish_tasks())
        self._stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _finish_tasks() -> None:
    """Cancel the loop's other tasks and close its async generators, as `asyncio.run` does."""
    loop = asyncio.get_running_loop()
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await loop.shutdown_asyncgens()


class _Closeable(Protocol):
    async def aclose(self) -> None: ...


def close_and_stop(runner: LoopThread, resource: _Closeable) -> None:
    """Close `resource` on `runner`'s loop, then stop the loop (a `weakref.finalize` callback)."""
    try:
        runner.run(resource.aclose())
    finally:
        runner.stop()
