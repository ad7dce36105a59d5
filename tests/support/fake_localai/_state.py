"""Everything one fake server remembers: its config, what it received, faults and counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._faults import FaultBook
from ._http import Refusal

DEFAULT_MODELS = (
    "qwen3-30b-instruct:q4_k_m",
    "openai-gpt-oss-20b:q4_k_m",
    "text-embedding-ada-002",
    "flux.1-dev-ggml",
    "minicpm-v-4_5",
    "whisper-1",
    "tts-1",
    "jina-reranker-v1-base-en",
)


@dataclass
class Config:
    """What LocalAI would be started with: installed models, API keys, readiness."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    api_keys: list[str] = field(default_factory=list)
    ready: bool = True


@dataclass
class Stats:
    """Counters tests read through GET /__stats."""

    disconnected: int = 0
    cut: int = 0
    active_requests: int = 0
    active_streams: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(vars(self))


class State:
    """One server's memory; `reset` restores the state it was started with."""

    def __init__(self, config: Config) -> None:
        self._initial = config
        self.reset()

    def reset(self) -> None:
        initial = self._initial
        self.config = Config(list(initial.models), list(initial.api_keys), initial.ready)
        self.requests: list[dict[str, Any]] = []
        self.faults = FaultBook()
        self.stats = Stats()
        self.images: dict[str, bytes] = {}
        self.responses: dict[str, dict[str, Any]] = {}  # stored Open Responses, by id

    def resolve_model(self, name: Any) -> str:
        """The model a request names, LocalAI-style: first model when absent, 404 when unknown."""
        if name is None or name == "":
            return self.config.models[0] if self.config.models else ""
        if not isinstance(name, str):
            raise Refusal.echo(400, "failed parsing request body: model must be a string")
        # LocalAI skips the existence check for Hugging Face style ids.
        if name not in self.config.models and "/" not in name:
            raise Refusal(
                404,
                f'model "{name}" not found. To see available models, call GET /v1/models',
                "invalid_request_error",
            )
        return name
