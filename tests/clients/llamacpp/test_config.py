"""`LlamaCppModelConfig`, `LlamaCppPoolConfig` and the embedded registry entries."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from clients.llamacpp import (
    LlamaCppModelConfig,
    LlamaCppPoolConfig,
    default_threads,
    embedded_models,
)


def test_defaults_for_a_chat_model() -> None:
    config = LlamaCppModelConfig(gguf=Path("/models/x.gguf"))
    assert (config.n_ctx, config.n_batch) == (2048, 512)
    assert (config.embedding, config.pooling) == (False, None)
    assert config.n_threads == default_threads() >= 1


def test_embedding_models_pool_by_mean_unless_told() -> None:
    assert LlamaCppModelConfig(package="p", embedding=True).pooling == "mean"
    assert LlamaCppModelConfig(package="p", embedding=True, pooling="cls").pooling == "cls"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of 'gguf'"),
        ({"gguf": "/m.gguf", "package": "p"}, "exactly one of 'gguf'"),
        ({"package": "p", "pooling": "mean"}, "'pooling' applies only"),
        ({"package": "p", "embedding": True, "chat_format": "chatml"}, "'chat_format' applies"),
        ({"package": "p", "pooling": "none", "embedding": True}, "Input should be"),
        ({"package": "p", "n_thread": 2}, "Extra inputs are not permitted"),
        ({"package": "p", "n_ctx": 0}, "greater than or equal"),
    ],
)
def test_refuses(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LlamaCppModelConfig.model_validate(fields)


def test_configs_are_frozen() -> None:
    config = LlamaCppModelConfig(package="p")
    with pytest.raises(ValidationError):
        config.n_ctx = 4  # type: ignore[misc]
    with pytest.raises(ValidationError):
        LlamaCppPoolConfig(max_loaded=0)


def test_embedded_models_are_valid_chat_and_embedding_entries() -> None:
    entries = embedded_models()
    assert set(entries) == {"smollm2-135m-instruct", "smollm2-135m-embed"}
    chat = entries["smollm2-135m-instruct"]
    embed = entries["smollm2-135m-embed"]
    assert {"chat", "grammar"} <= set(chat["capabilities"])
    assert embed["capabilities"] == ["embeddings"]
    assert not LlamaCppModelConfig.model_validate(chat["legacy"]).embedding
    assert LlamaCppModelConfig.model_validate(embed["legacy"]).pooling == "mean"
    for model_id, entry in entries.items():
        assert set(entry) == {"localai_model", "capabilities", "legacy"}
        assert entry["localai_model"] == model_id
