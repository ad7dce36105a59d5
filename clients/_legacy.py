"""`LegacyPipelineAdapter`: the old pipelines' blocking calls, answered by LocalAI or in-process.

`ENABLE_LOCALAI_MIGRATION` is read from the environment when an adapter is created. `true`
sends its calls to LocalAI, or to this gateway, through `SyncLocalAIClient`; `false` (the
default, as in seed 004) runs the registry entry's `legacy` block in-process with llama.cpp,
through `LlamaCppBackend`, the code the gateway's in-process backend runs.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from ._blocking import LoopThread, close_and_stop
from ._localai import Messages
from ._registry import RegistryEntry, registry_entry
from ._streams import AsyncStream, SyncStream, mapped
from ._sync import SyncLocalAIClient
from ._types import ChatChunk, ChatResponse
from .llamacpp import LlamaCppBackend, LlamaCppModelConfig

FLAG = "ENABLE_LOCALAI_MIGRATION"
BASE_URL = "LOCALAI_BASE_URL"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def migration_enabled() -> bool:
    """`ENABLE_LOCALAI_MIGRATION` as a bool (unset: false); another value raises ValueError."""
    value = os.environ.get(FLAG, "false").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{FLAG} must be true or false, not {value!r}")
    return value in _TRUE


class _Answerer(Protocol):
    def generate(self, messages: Messages, options: dict[str, Any]) -> str: ...

    def stream(self, messages: Messages, options: dict[str, Any]) -> SyncStream[str]: ...

    def close(self) -> None: ...


class _OverHTTP:
    """Answers from LocalAI or the gateway, through the blocking client."""

    def __init__(self, base_url: str, api_key: str | None, model: str) -> None:
        self._client = SyncLocalAIClient(base_url, api_key=api_key)
        self._model = model

    def generate(self, messages: Messages, options: dict[str, Any]) -> str:
        return self._client.chat_completion(messages, self._model, stream=False, **options).content

    def stream(self, messages: Messages, options: dict[str, Any]) -> SyncStream[str]:
        return self._client.chat_completion(messages, self._model, stream=True, **options)

    def close(self) -> None:
        self._client.close()


def _chunk_text(raw: dict[str, Any]) -> str:
    return ChatChunk.from_dict(raw).content


class _InProcess:
    """Answers from llama.cpp in this process, on a private event loop thread."""

    def __init__(self, model: str, config: LlamaCppModelConfig) -> None:
        self._model = model
        self._config = config
        self._runner = LoopThread("LegacyPipelineAdapter")
        self._backend = LlamaCppBackend()
        self._runner.run(self._backend.__aenter__())
        self._closer = weakref.finalize(self, close_and_stop, self._runner, self._backend)
        # At interpreter exit llama.cpp's worker threads are already shut down (and joined);
        # the model's memory goes with the process.
        self._closer.atexit = False

    def generate(self, messages: Messages, options: dict[str, Any]) -> str:
        body = {"messages": list(messages), **options}
        raw = self._runner.run(self._backend.chat(self._model, self._config, body))
        return ChatResponse.from_dict(raw).content

    def stream(self, messages: Messages, options: dict[str, Any]) -> SyncStream[str]:
        body = {"messages": list(messages), **options}
        chunks = self._backend.chat_stream(self._model, self._config, body)
        return SyncStream(self._runner, mapped(AsyncStream(chunks), _chunk_text))

    def close(self) -> None:
        self._closer()


def _served_name(model: str, entry: RegistryEntry | None, registry: object) -> str:
    """The name sent when migrating: LocalAI's (`localai_model`) with a registry, else `model`."""
    if registry is None:
        return model
    if entry is None:
        raise ValueError(f"model {model!r} is not in the registry {registry}")
    return entry.localai_model


def _in_process(model: str, entry: RegistryEntry | None, registry: object) -> _InProcess:
    if entry is None or entry.legacy is None:
        where = f"registry {registry}" if registry is not None else "the embedded models"
        raise ValueError(
            f"model {model!r} has no 'legacy' block in {where}; "
            f"set {FLAG}=true to use LocalAI instead"
        )
    return _InProcess(model, entry.legacy)


class LegacyPipelineAdapter:
    """The old pipelines' `generate_response` and `stream_response` for one model.

        adapter = LegacyPipelineAdapter("smollm2-135m-instruct")
        print(adapter.generate_response([{"role": "user", "content": "Hi"}], max_tokens=32))

    With `ENABLE_LOCALAI_MIGRATION=true` (read now, from the environment) calls go to
    `base_url` (else `$LOCALAI_BASE_URL`): LocalAI, sent the entry's `localai_model` when a
    `registry` file is given, or this gateway, sent `model` itself when none is. Otherwise the
    model's `legacy` block (from `registry`, or the embedded SmolLM2 models without one) runs
    in-process; its errors are `clients.llamacpp.LlamaCppError`s. `close()` (or `with`) frees
    the connections or the loaded model.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        registry: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = model
        self.migrated = migration_enabled()
        entry = registry_entry(model, registry)
        self._answerer: _Answerer
        if self.migrated:
            url = base_url or os.environ.get(BASE_URL)
            if not url:
                raise ValueError(f"{FLAG} is true: give base_url= or set {BASE_URL}")
            self._answerer = _OverHTTP(url, api_key, _served_name(model, entry, registry))
        else:
            self._answerer = _in_process(model, entry, registry)

    def generate_response(self, messages: Messages, **kwargs: Any) -> str:
        """The whole answer's text; `kwargs` are request fields (`max_tokens`, `grammar`...)."""
        return self._answerer.generate(messages, kwargs)

    def stream_response(self, messages: Messages, **kwargs: Any) -> Iterator[str]:
        """The answer's text pieces as they come; close the iterator to stop early."""
        return self._answerer.stream(messages, kwargs)

    def close(self) -> None:
        """Close the connections, or unload the in-process model. Idempotent."""
        self._answerer.close()

    def __enter__(self) -> LegacyPipelineAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
