"""`LlamaCppBackend`: chat and text completions (whole or streamed), embeddings and the
tokenizer of llama.cpp models loaded in-process."""

import contextlib
import functools
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

from .chat import ChatJob, complete, stream
from .config import DEFAULT_POOL, LlamaCppModelConfig, LlamaCppPoolConfig
from .constraints import grammar_for
from .embeddings import embed
from .errors import LlamaCppBadRequest
from .pool import Closer, Loader, ModelPool
from .requests import (
    ChatBody,
    CompletionBody,
    DetokenizeBody,
    EmbeddingsBody,
    TokenizeBody,
    parse_body,
)
from .runtime import close_llama, import_llama_cpp, load_llama
from .tokens import detokenize, tokenize
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
        return await self._whole(model_id, config, self._chat_job(model_id, config, body))

    def chat_stream(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any]]:
        """`chat.completion.chunk`s, one per token; closing the generator stops the generation.

        Errors in the request or the model surface on the first `__anext__`, before any chunk.
        """
        return self._stream(model_id, config, lambda: self._chat_job(model_id, config, body))

    async def completion(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A whole `text_completion` of `body`'s prompt (no chat template)."""
        return await self._whole(model_id, config, self._text_job(model_id, config, body))

    def completion_stream(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any]]:
        """`text_completion` chunks, one per token, as `chat_stream` streams chat."""
        return self._stream(model_id, config, lambda: self._text_job(model_id, config, body))

    async def tokenize(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> dict[str, Any]:
        """LocalAI's `{"tokens": [...]}` for `{"content"}`, from the model's tokenizer."""
        request = parse_body(TokenizeBody, body)
        return await self._in_worker(model_id, config, lambda llama: tokenize(llama, request))

    async def detokenize(
        self, model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]
    ) -> dict[str, Any]:
        """LocalAI's `{"content"}` for `{"tokens": [...]}`."""
        request = parse_body(DetokenizeBody, body)
        return await self._in_worker(
            model_id, config, lambda llama: detokenize(llama, model_id, request)
        )

    async def _in_worker(
        self,
        model_id: str,
        config: LlamaCppModelConfig,
        work: Callable[[Any], dict[str, Any]],
    ) -> dict[str, Any]:
        """`work(llama)` for the loaded model, in its worker thread."""
        import_llama_cpp(model_id)
        entry = await self.pool.acquire(model_id, config)
        return await call_in_worker(self._executor, entry, lambda _stop: work(entry.llama))

    async def _whole(
        self, model_id: str, config: LlamaCppModelConfig, job: ChatJob
    ) -> dict[str, Any]:
        llama_cpp = import_llama_cpp(model_id)
        entry = await self.pool.acquire(model_id, config)
        work = functools.partial(complete, llama_cpp, entry.llama, job)
        return await call_in_worker(self._executor, entry, work)

    async def _stream(
        self, model_id: str, config: LlamaCppModelConfig, make_job: Callable[[], ChatJob]
    ) -> AsyncGenerator[dict[str, Any]]:
        job = make_job()
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
        return await self._in_worker(
            model_id, config, lambda llama: embed(llama, model_id, request)
        )

    @staticmethod
    def _chat_job(model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]) -> ChatJob:
        _refuse_embedding_model(model_id, config)
        request = parse_body(ChatBody, body)
        return ChatJob(
            model_id=model_id,
            messages=[message.as_llama() for message in request.messages],
            sampling=request.sampling(),
            grammar=grammar_for(request),
            include_usage=request.include_usage,
        )

    @staticmethod
    def _text_job(model_id: str, config: LlamaCppModelConfig, body: dict[str, Any]) -> ChatJob:
        _refuse_embedding_model(model_id, config)
        request = parse_body(CompletionBody, body)
        return ChatJob(
            model_id=model_id,
            messages=[],
            sampling=request.sampling(),
            grammar=grammar_for(request),
            include_usage=request.include_usage,
            prompt=request.text,
        )


def _refuse_embedding_model(model_id: str, config: LlamaCppModelConfig) -> None:
    if config.embedding:
        raise LlamaCppBadRequest(f"model {model_id!r} is an embedding model", param="model")
