"""In-process llama.cpp backend (llama-cpp-python, the optional `legacy` extra).

Serves chat and text completions (streamed or not, grammar-constrained or not), embeddings and
the tokenizer with the same OpenAI and LocalAI shapes as the LocalAI path. Importing this
package never imports llama_cpp.
"""

from .backend import LlamaCppBackend
from .config import DEFAULT_POOL, LlamaCppModelConfig, LlamaCppPoolConfig, default_threads
from .embedded import embedded_defaults, embedded_models
from .errors import LlamaCppBadRequest, LlamaCppError, LlamaCppModelUnavailable
from .pool import LoadedModel, ModelPool
from .runtime import llama_cpp_available, packaged_gguf

__all__ = [
    "DEFAULT_POOL",
    "LlamaCppBackend",
    "LlamaCppBadRequest",
    "LlamaCppError",
    "LlamaCppModelConfig",
    "LlamaCppModelUnavailable",
    "LlamaCppPoolConfig",
    "LoadedModel",
    "ModelPool",
    "default_threads",
    "embedded_defaults",
    "embedded_models",
    "llama_cpp_available",
    "packaged_gguf",
]
