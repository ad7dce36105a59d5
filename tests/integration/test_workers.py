"""`localai-gateway serve --workers 2`: two gateway processes on one port behind a fake LocalAI.

Both workers take connections, /metrics adds up both, an image link signed by one verifies on
the other, a worker listens only once told `go`, and SIGTERM to the parent lets open streams on
both workers finish before everything exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.servers import FakeLocalAI, free_port, run_process

from .conftest import GATEWAY

pytestmark = pytest.mark.integration

REGISTRY = """
models:
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
  flux:
    localai_model: flux.1-dev-ggml
    capabilities: [images]
"""
HELLO = {"model": "chat", "messages": [{"role": "user", "content": "one two three"}]}
ANSWER = "mocked response to: one two three"


@contextlib.contextmanager
def two_workers(
    fake: FakeLocalAI, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """`serve --workers 2` on a free port; its URL, the parent process and its log."""
    registry, log = tmp_path / "models.yaml", tmp_path / "gateway.log"
    registry.write_text(REGISTRY)
    port = free_port()
    env = {
        "LOCALAI_GATEWAY_LOCALAI_URL": fake.url,
        "LOCALAI_GATEWAY_REGISTRY": str(registry),
        "LOCALAI_GATEWAY_DRAIN_TIMEOUT": "20",
        "LOCALAI_GATEWAY_KEEPALIVE_INTERVAL": "0",
    }
    cmd = [GATEWAY, "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"]
    with run_process(cmd, env, port=port, ready_path="/readyz", log_path=log) as parent:
        yield f"http://127.0.0.1:{port}", parent, log


@pytest.fixture(scope="module")
def gateway(
    _fake_localai_process: FakeLocalAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    with two_workers(_fake_localai_process, tmp_path_factory.mktemp("workers")) as running:
        yield running


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            stat = (entry / "stat").read_text()
            if entry.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def connections(pid: int, port: int) -> int:
    """Established TCP connections to local `port` held by process `pid` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


def content(event: str) -> str:
    """The text of one `data: ` line of a chat stream."""
    choices = orjson.loads(event.removeprefix("data: "))["choices"]
    return "".join(choice["delta"].get("content") or "" for choice in choices)


def open_connections(url: str, count: int) -> list[httpx.Client]:
    """`count` clients, each holding one kept-alive connection to the gateway."""
    clients = [httpx.Client(base_url=url, timeout=10) for _ in range(count)]
    for client in clients:
        assert client.get("/healthz").status_code == 200
    return clients


def test_two_workers_share_the_port(gateway: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, parent, _ = gateway
    workers = children(parent.pid)
    assert len(workers) == 2
    port = int(url.rsplit(":", 1)[1])
    clients = open_connections(url, 16)
    try:
        held = [connections(pid, port) for pid in workers]
        assert sum(held) == 16 and min(held) > 0, held
        assert connections(parent.pid, port) == 0, "the parent serves nothing itself"
    finally:
        for client in clients:
            client.close()


def test_metrics_add_up_every_worker(gateway: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, _, _ = gateway

    def answered() -> float:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        line = next(
            (
                x
                for x in text.splitlines()
                if x.startswith("localai_gateway_requests_total{")
                and 'model="chat"' in x
                and 'status="200"' in x
            ),
            "0 0",
        )
        return float(line.rsplit(" ", 1)[1])

    before = answered()
    for _ in range(12):  # a new connection each: both workers answer some
        assert httpx.post(f"{url}/v1/chat/completions", json=HELLO, timeout=10).status_code == 200
    # A request is counted just after its last byte went out: give the count a moment.
    deadline = time.monotonic() + 5
    while answered() != before + 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(6):  # whichever worker answers the scrape
        assert answered() == before + 12


def test_an_image_link_from_one_worker_opens_on_every_worker(
    gateway: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, _, _ = gateway
    body = {"model": "flux", "prompt": "a cat", "size": "64x64"}
    reply = httpx.post(f"{url}/v1/images/generations", json=body, timeout=10)
    link = reply.json()["data"][0]["url"]
    statuses = {httpx.get(link, timeout=10).status_code for _ in range(12)}
    assert statuses == {200}, "one IMAGE_URL_KEY for every worker"


def test_a_worker_listens_only_once_told_go(
    tmp_path: Path, _fake_localai_process: FakeLocalAI
) -> None:
    registry = tmp_path / "models.yaml"
    registry.write_text(REGISTRY)
    port = free_port()
    supervisor_end, worker_end = socket.socketpair()
    env = {
        **os.environ,
        "LOCALAI_GATEWAY_LOCALAI_URL": _fake_localai_process.url,
        "LOCALAI_GATEWAY_REGISTRY": str(registry),
    }
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    worker = subprocess.Popen(
        [*cmd, "--worker-link", str(worker_end.fileno()), "--log-level", "warning"],
        env=env,
        pass_fds=[worker_end.fileno()],
    )
    worker_end.close()
    try:
        supervisor_end.settimeout(30)
        assert supervisor_end.recv(3) == b"up\n"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        supervisor_end.sendall(b"go\n")
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        for _ in range(100):
            with contextlib.suppress(httpx.ConnectError):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
        assert ready.status_code == 200
        supervisor_end.close()  # the supervisor is gone: the worker shuts down
        assert worker.wait(20) in (0, -signal.SIGTERM)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_sigterm_drains_both_workers_with_their_open_streams(
    tmp_path: Path, _fake_localai_process: FakeLocalAI
) -> None:
    fake = _fake_localai_process
    fake.set_faults({"slow_events_ms": 150, "times": None})
    results: list[str] = []
    started = threading.Barrier(17, timeout=30)

    def consume(url: str) -> None:
        body = {**HELLO, "stream": True}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            events = [next(line for line in lines if line.startswith("data: "))]
            started.wait()
            events += [line for line in lines if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"
        results.append("".join(map(content, events[:-1])))

    try:
        with two_workers(fake, tmp_path) as (url, parent, log):
            assert log.read_text().count("serving 2 models") == 2, (
                "both were up before the port opened"
            )
            workers = children(parent.pid)
            threads = [threading.Thread(target=consume, args=(url,)) for _ in range(16)]
            for thread in threads:
                thread.start()
            started.wait()
            port = int(url.rsplit(":", 1)[1])
            assert all(connections(pid, port) > 0 for pid in workers), "streams on both"
            os.kill(parent.pid, signal.SIGTERM)
            for thread in threads:
                thread.join(30)
            assert parent.wait(30) == 0
            assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        fake.clear_faults()
    assert results == [ANSWER] * 16
