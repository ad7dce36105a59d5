"""`LlamaCppBackend`: chat, streamed chat and embeddings from llama.cpp models loaded in-process."""

import contextlib
import functools
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

from .chat import ChatJob, complete, stream
from .config import DEFAULT_POOL, LlamaCppModelConfig, LlamaCppPoolConfig
from .constraints import grammar_for
from .embeddings import embed
from .errors import LlamaCppBadRequest
from .pool import Closer, Loader, ModelPool
from .requests import ChatBody, EmbeddingsBody, parse_body
from .runtime import close_llama, import_llama_cpp, load_llama
from .worker import call_in_worker, stream_from_worker


class LlamaCppBackend:
    """Serves OpenAI-shaped requests from in-process models; open it with `async with`.

    Models load on first use and unload when idle or when `max_loaded` is reached. Each model
    runs one request at a time, in a worker thread.
    """

    def __init__(
        self,
        limits: LlamaCppPoolConfig = DEFAULT_POOL,
        *,
        loader: Loader = load_llama,
        closer: Closer = close_llama,
    ) -> None:
        # One thread per loaded model (each runs one request at a time), one for loading.
        self._executor = ThreadPoolExecutor(limits.max_loaded + 1, thread_name_prefix="llama-cpp")
        self.pool = ModelPool(self._executor, limits, loader=loader, closer=closer)

    async def __aenter__(self) -> Self:
        await self.pool.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unload every model (after the requests in progress) and stop the threads. Idempotent."""
        await self.pool.aclose()
        self._executor.shutdown(wait=False)

    async def chat(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A whole `chat.completion` for `body`; cancelling the call stops the generation."""
        job = self._chat_job(model_id, config, body)
        llama_cpp = import_llama_cpp(model_id)
        entry = await self.pool.acquire(model_id, config)
        work = functools.partial(complete, llama_cpp, entry.llama, job)
        return await call_in_worker(self._executor, entry, work)

    async def chat_stream(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any]]:
        """`chat.completion.chunk`s, one per token; closing the generator stops the generation.

        Errors in the request or the model surface on the first `__anext__`, before any chunk.
        """
        job = self._chat_job(model_id, config, body)
        llama_cpp = import_llama_cpp(model_id)
        entry = await self.pool.acquire(model_id, config)
        produce = functools.partial(stream, llama_cpp, entry.llama, job)
        # Closing this generator must close the worker's stream now, not at garbage collection.
        async with contextlib.aclosing(
            stream_from_worker(self._executor, entry, produce)
        ) as chunks:
            async for chunk in chunks:
                yield chunk

    async def embeddings(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> dict[str, Any]:
        """An OpenAI embeddings list: one pooled vector per input, with token usage."""
        if not config.embedding:
            raise LlamaCppBadRequest(f"model {model_id!r} is not an embedding model", param="model")
        request = parse_body(EmbeddingsBody, body)
        import_llama_cpp(model_id)
        entry = await self.pool.acquire(model_id, config)
        work = functools.partial(embed, entry.llama, model_id, request)
        return await call_in_worker(self._executor, entry, lambda _stop: work())

    @staticmethod
    def _chat_job(model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]) -> ChatJob:
        if config.embedding:
            raise LlamaCppBadRequest(f"model {model_id!r} is an embedding model", param="model")
        request = parse_body(ChatBody, body)
        return ChatJob(
            model_id=model_id,
            messages=[message.as_llama() for message in request.messages],
            sampling=request.sampling(),
            grammar=grammar_for(request),
            include_usage=request.include_usage,
        )
