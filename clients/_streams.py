"""Streams of a client's answers that always close their HTTP response.

A stream is a generator paused right after its response opened, so errors before the first
event (a status, no connection) are raised when it opens, and closing the stream, leaving its
`async with`, or dropping it (the event loop's async-generator finalizer) closes the response.
`SyncStream` reads one from blocking code, on the loop of a `LoopThread`.
"""

from __future__ import annotations

import contextlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
)
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar, cast

from ._blocking import LoopThread

T = TypeVar("T")


class AsyncStream(AsyncIterator[T], Generic[T]):
    """Items of one streamed answer: `async for` them; `aclose()` or `async with` ends it."""

    __slots__ = ("__weakref__", "_items")

    def __init__(self, items: AsyncGenerator[T]) -> None:
        self._items = items

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        return await anext(self._items)

    async def aclose(self) -> None:
        """Close the response now; iterating then ends. Calling it twice is harmless."""
        await self._items.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def open_stream(source: AbstractAsyncContextManager[AsyncGenerator[T]]) -> AsyncStream[T]:
    """Enter `source` (which opens a response) and return its items as an `AsyncStream`."""

    async def items() -> AsyncGenerator[T | None]:
        async with source as inner, contextlib.aclosing(inner):
            yield None  # opened: the caller's first `anext` returns here
            async for item in inner:
                yield item

    generator = items()
    await anext(generator)
    # Past the marker the generator yields only the source's items.
    return AsyncStream(cast(AsyncGenerator[T], generator))


def mapped(stream: AsyncStream[T], pick: Callable[[T], str]) -> AsyncStream[str]:
    """The non-empty `pick(item)` of every item; closing the result closes `stream`."""

    async def texts() -> AsyncGenerator[str]:
        async with stream:
            async for item in stream:
                if text := pick(item):
                    yield text

    return AsyncStream(texts())


class StreamOpener(Generic[T]):
    """A stream about to open: `await` it for the `AsyncStream`, or `async with` it to have
    the stream closed on exit."""

    __slots__ = ("_open", "_stream")

    def __init__(self, open_: Callable[[], Awaitable[AsyncStream[T]]]) -> None:
        self._open = open_
        self._stream: AsyncStream[T] | None = None

    async def open(self) -> AsyncStream[T]:
        """Open the stream (the request is sent now) and return it."""
        return await self._open()

    def __await__(self) -> Generator[Any, None, AsyncStream[T]]:
        return self.open().__await__()

    async def __aenter__(self) -> AsyncStream[T]:
        self._stream = await self.open()
        return self._stream

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stream is not None:
            await self._stream.aclose()


class SyncStream(Iterator[T]):
    """An `AsyncStream` read from blocking code: iterate it; `close()` or `with` ends it."""

    __slots__ = ("_runner", "_stream")

    def __init__(self, runner: LoopThread, stream: AsyncStream[T]) -> None:
        self._runner = runner
        self._stream = stream

    def __iter__(self) -> SyncStream[T]:
        return self

    def __next__(self) -> T:
        try:
            return self._runner.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        """Close the response now; iterating then ends. Calling it twice is harmless."""
        self._runner.run(self._stream.aclose())

    def __enter__(self) -> SyncStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
