"""Embeddings computed in a worker thread: one pooled, L2-normalised vector per input."""

import base64
import struct
from typing import Any

from .errors import LlamaCppBadRequest
from .requests import EmbeddingsBody


def embed(llama: Any, model_id: str, body: EmbeddingsBody) -> dict[str, Any]:
    """Return an OpenAI embeddings list for `body` (blocking: call it in a worker thread)."""
    size = llama.n_embd()
    if body.dimensions is not None and body.dimensions != size:
        raise LlamaCppBadRequest(
            f"model {model_id!r} has {size} dimensions; 'dimensions' cannot change that",
            param="dimensions",
        )
    try:
        vectors, tokens = llama.embed(body.texts, normalize=True, truncate=False, return_count=True)
    except ValueError as exc:  # an input longer than the batch
        raise LlamaCppBadRequest(f"model {model_id!r}: {exc}", param="input") from exc
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encode(vector, body)}
            for index, vector in enumerate(vectors)
        ],
        "model": model_id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _encode(vector: list[float], body: EmbeddingsBody) -> list[float] | str:
    if body.encoding_format == "float":
        return vector
    # OpenAI's base64 form: the little-endian float32 array, base64-encoded.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
