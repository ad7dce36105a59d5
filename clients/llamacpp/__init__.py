"""In-process llama.cpp backend (llama-cpp-python, the optional `legacy` extra).

Serves chat, streamed chat, grammar-constrained chat and embeddings with the same OpenAI shapes
as the LocalAI path. Importing this package never imports llama_cpp.
"""

from .backend import LegacyBackend
from .config import DEFAULT_POOL, LegacyModelConfig, LegacyPoolConfig, default_threads
from .embedded import embedded_models
from .errors import LegacyBadRequest, LegacyError, LegacyModelUnavailable
from .pool import LoadedModel, ModelPool
from .runtime import legacy_available, packaged_gguf

__all__ = [
    "DEFAULT_POOL",
    "LegacyBackend",
    "LegacyBadRequest",
    "LegacyError",
    "LegacyModelConfig",
    "LegacyModelUnavailable",
    "LegacyPoolConfig",
    "LoadedModel",
    "ModelPool",
    "default_threads",
    "embedded_models",
    "legacy_available",
    "packaged_gguf",
]
