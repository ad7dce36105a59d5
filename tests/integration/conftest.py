"""Integration fixtures: the real gateway process (`localai-gateway serve`) on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from openai import OpenAI

from tests.support.servers import REPO_ROOT, FakeLocalAI, free_port, run_process

GATEWAY = str(Path(sys.executable).parent / "localai-gateway")


@pytest.fixture(scope="module")
def gateway_url(_fake_localai_process: FakeLocalAI) -> Iterator[str]:
    """A gateway process serving the example registry against the fake LocalAI."""
    port = free_port()
    env = {
        "LOCALAI_GATEWAY_LOCALAI_URL": _fake_localai_process.url,
        "LOCALAI_GATEWAY_REGISTRY": str(REPO_ROOT / "localai_models.yaml"),
        "LOCALAI_GATEWAY_FIRST_TOKEN_TIMEOUT": "5",
        "LOCALAI_GATEWAY_IDLE_TIMEOUT": "5",
    }
    cmd = [GATEWAY, "serve", "--port", str(port), "--log-level", "warning"]
    with run_process(cmd, env, port=port, ready_path="/readyz"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def embedded_gateway() -> Iterator[str]:
    """`localai-gateway serve` with no LocalAI and no registry: the embedded SmolLM2 models
    (one process for every module that uses it)."""
    assert not any(name.startswith("LOCALAI_GATEWAY_") for name in os.environ)
    port = free_port()
    cmd = [GATEWAY, "serve", "--port", str(port), "--log-level", "warning"]
    with run_process(cmd, port=port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def sdk(gateway_url: str) -> OpenAI:
    """The official OpenAI SDK pointed at the gateway, with its own retries off."""
    return OpenAI(base_url=f"{gateway_url}/v1", api_key="sk-test", max_retries=0, timeout=20)


@contextmanager
def gateway_process(
    registry: str, tmp_dir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `localai-gateway serve` with `registry` (YAML text) and extra settings."""
    path = tmp_dir / f"registry-{free_port()}.yaml"
    path.write_text(registry)
    with serve_gateway({"LOCALAI_GATEWAY_REGISTRY": str(path), **(env or {})}) as running:
        yield running


@contextmanager
def serve_gateway(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `localai-gateway serve` on a free port with `env` added; yield its URL and process."""
    port = free_port()
    cmd = [GATEWAY, "serve", "--port", str(port), "--log-level", "warning"]
    with run_process(cmd, env, port=port) as process:
        yield f"http://127.0.0.1:{port}", process
