"""`SyncLocalAIClient`: `LocalAIClient`'s methods as blocking calls, on a private event loop."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, Unpack, overload

from ._blocking import LoopThread, close_and_stop
from ._localai import LocalAIClient, Messages
from ._options import ClientOptions
from ._streams import SyncStream
from ._types import ChatChunk, ChatResponse

P = ParamSpec("P")
T = TypeVar("T")


def _blocking(
    method: Callable[Concatenate[LocalAIClient, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[SyncLocalAIClient, P], T]:
    """`method` of the async client, run to completion on the sync client's loop."""

    @functools.wraps(method)
    def call(self: SyncLocalAIClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.run(method(self._client, *args, **kwargs))

    return call


class SyncLocalAIClient:
    """`LocalAIClient` for blocking code: the same methods and arguments; streams are iterators.

        with SyncLocalAIClient("http://127.0.0.1:8000") as client:
            print(client.chat_completion([{"role": "user", "content": "Hi"}], "qwen3").content)

    Calls run on an event loop of the client's own thread, so they also work where the caller
    already runs a loop (Jupyter, sync code called from an async framework), and from several
    threads at once. `close()` (or leaving `with`, or dropping the client) closes the pool and
    stops the thread.
    """

    def __init__(self, base_url: str, **options: Unpack[ClientOptions]) -> None:
        self._client = LocalAIClient(base_url, **options)
        self.base_url = self._client.base_url
        self._runner = LoopThread("SyncLocalAIClient")
        self._closer = weakref.finalize(self, close_and_stop, self._runner, self._client)

    def __enter__(self) -> SyncLocalAIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool and stop the loop thread; further calls raise RuntimeError. Idempotent."""
        self._closer()

    @overload
    def chat_completion(
        self,
        messages: Messages,
        model: str,
        stream: Literal[False] = False,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> ChatResponse: ...

    @overload
    def chat_completion(
        self,
        messages: Messages,
        model: str,
        stream: Literal[True],
        grammar: str | None = None,
        **kwargs: Any,
    ) -> SyncStream[str]: ...

    def chat_completion(
        self,
        messages: Messages,
        model: str,
        stream: bool = False,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> ChatResponse | SyncStream[str]:
        """A chat answer; with `stream=True` an iterator of its text pieces instead."""
        if stream:
            pieces = self._client.chat_completion(messages, model, True, grammar, **kwargs)
            return SyncStream(self._runner, self._runner.run(pieces))
        return self._runner.run(
            self._client.chat_completion(messages, model, False, grammar, **kwargs)
        )

    def stream_chat(
        self, messages: Messages, model: str, grammar: str | None = None, **kwargs: Any
    ) -> SyncStream[ChatChunk]:
        """Typed chunks of a streamed chat answer; use `with` to close it early."""
        opener = self._client.stream_chat(messages, model, grammar, **kwargs)
        return SyncStream(self._runner, self._runner.run(opener.open()))

    create_embeddings = _blocking(LocalAIClient.create_embeddings)
    generate_image = _blocking(LocalAIClient.generate_image)
    describe_image = _blocking(LocalAIClient.describe_image)
    list_models = _blocking(LocalAIClient.list_models)
    grammar_constrained_generation = _blocking(LocalAIClient.grammar_constrained_generation)
    create_transcription = _blocking(LocalAIClient.create_transcription)
    create_speech = _blocking(LocalAIClient.create_speech)
    rerank = _blocking(LocalAIClient.rerank)
