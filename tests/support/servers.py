"""Run servers for tests as subprocesses on 127.0.0.1, wait until they answer, always stop them.

`run_process` works for any server (the gateway under uvicorn too); `ServerProcess` is one
restartable server on a fixed free port; `FakeLocalAI` drives one fake LocalAI process through
its test-only /__ routes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, Self

import httpx

from tests.support.fake_localai import DEFAULT_MODELS

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
_POLL = 0.05
_LOG_TAIL = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def run_process(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    port: int,
    ready_path: str = "/healthz",
    timeout: float = 30.0,
    log_path: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `cmd` in the repo root with `env` added to ours; yield once
    http://127.0.0.1:<port><ready_path> answers 200; stop it on exit. Its output goes to
    `log_path` (overwritten) when given, else to a temporary file.

    Raises RuntimeError (with the process output) if it exits or is not ready in `timeout` s.
    """
    with open(log_path, "w+b") if log_path else tempfile.TemporaryFile() as log:
        # Output goes to a file, not a pipe: a full pipe would block the server mid-test.
        process = subprocess.Popen(
            list(cmd),
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(process, f"http://127.0.0.1:{port}{ready_path}", timeout, log)
            yield process
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still running after STOP_GRACE seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(_POLL)
    raise RuntimeError(f"{process.args} not ready at {url} within {timeout}s:\n{_tail(log)}")


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-_LOG_TAIL:]


class ServerProcess:
    """A server process on a fixed port (a free one unless given); restartable there after
    `kill()`."""

    ready_path = "/healthz"
    ready_timeout = 30.0

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._stack = ExitStack()

    @property
    def url(self) -> str:
        """The base URL, without /v1."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line that starts the server on `self.port`."""
        raise NotImplementedError

    def log_path(self) -> Path | None:
        """Where the server's output goes (None: a temporary file)."""
        return None

    def start(self) -> Self:
        self._process = self._stack.enter_context(
            run_process(
                self.command(),
                port=self.port,
                ready_path=self.ready_path,
                timeout=self.ready_timeout,
                log_path=self.log_path(),
            )
        )
        return self

    def stop(self) -> None:
        """Stop gracefully (SIGTERM); idempotent."""
        self._stack.close()
        self._process = None

    def kill(self) -> None:
        """Die abruptly (SIGKILL), like a crashed replica; open connections just drop."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self.stop()

    def restart(self) -> None:
        """Stop if running, then start a fresh process (empty state) on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeLocalAI(ServerProcess):
    """A fake LocalAI process on a fixed free port; restartable there after `kill()`."""

    def __init__(
        self,
        models: Sequence[str] = DEFAULT_MODELS,
        api_key: str | None = None,
        *,
        starting: bool = False,
    ) -> None:
        super().__init__()
        self.models, self.api_key, self.starting = list(models), api_key, starting

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "tests.support.fake_localai", "--port", str(self.port)]
        cmd += ["--models", ",".join(self.models)]
        cmd += ["--api-key", self.api_key] if self.api_key else []
        return cmd + (["--starting"] if self.starting else [])

    # Test-only routes of the running fake.

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Requests received since the last clear, optionally only those for `path`."""
        recorded: list[dict[str, Any]] = self._call("GET", "/__requests")
        return [r for r in recorded if path is None or r["path"] == path]

    def set_faults(self, *faults: Mapping[str, Any]) -> None:
        """Queue faults (schema: tests.support.fake_localai); raises on a field it rejects."""
        self._call("POST", "/__faults", list(faults))

    def clear_faults(self) -> None:
        self._call("DELETE", "/__faults")

    def configure(self, **fields: Any) -> None:
        """Change `models`, `api_keys` or `ready` of the running fake."""
        self._call("POST", "/__config", fields)

    def stats(self) -> dict[str, int]:
        """{"disconnected", "cut", "active_requests", "active_streams"}."""
        stats: dict[str, int] = self._call("GET", "/__stats")
        return stats

    def clear(self) -> None:
        """Back to the start-up state: no requests, faults or counters."""
        self._call("POST", "/__reset")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, self.url + path, json=body, timeout=10.0)
        response.raise_for_status()
        return response.json()
