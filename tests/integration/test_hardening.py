"""One request must never take the pod down: memory, disconnects, Redis (issue 15), through a
real `localai-gateway serve` process."""

from __future__ import annotations

import concurrent.futures
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.conftest import gateway_process
from tests.support.servers import FakeLocalAI

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]
KEY = "sk-hardening-test"
MiB = 1024 * 1024


def registry(url: str) -> str:
    return f"""
models:
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: ["{url}"]
"""


@pytest.fixture
def fake() -> Iterator[FakeLocalAI]:
    with FakeLocalAI() as server:
        yield server


def peak_rss_mb(pid: int) -> float:
    """The process's resident-set high-water mark (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_bodies_of_millions_of_empty_objects_are_refused_before_they_are_parsed(
    fake: FakeLocalAI, tmp_path: Path
) -> None:
    head, tail = b'{"model":"chat","messages":[', b"{}]}"
    body = head + b"{}," * ((32 * MiB - len(head) - len(tail)) // 3) + tail
    assert len(body) <= 32 * MiB
    with gateway_process(registry(fake.url), tmp_path) as (url, process):
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(
                pool.map(
                    lambda _: httpx.post(
                        url + CHAT,
                        content=body,
                        headers={"content-type": "application/json"},
                        timeout=60,
                    ),
                    range(4),
                )
            )
        peak = peak_rss_mb(process.pid)
        ok = httpx.post(url + CHAT, json={"model": "chat", "messages": HELLO}, timeout=10)
    for reply in replies:
        assert reply.status_code == 413, reply.text
        assert "LOCALAI_GATEWAY_MAX_JSON_CONTAINERS" in reply.json()["error"]["message"]
    assert peak < 256, f"peak RSS {peak:.0f} MB"
    assert ok.status_code == 200, "the gateway keeps serving"
    print(f"peak RSS with four 32 MiB bodies: {peak:.0f} MB")


def test_a_client_leaving_a_whole_reply_closes_the_upstream_within_3_s(
    fake: FakeLocalAI, tmp_path: Path
) -> None:
    fake.set_faults({"path": CHAT, "stall_before_headers": 60})
    with gateway_process(registry(fake.url), tmp_path) as (url, _):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + CHAT, json={"model": "chat", "messages": HELLO}, timeout=0.5)
        left = time.monotonic()
        while fake.stats()["disconnected"] < 1:
            assert time.monotonic() - left < 3, "the upstream request is still open"
            time.sleep(0.05)
        assert fake.stats()["active_requests"] == 0


def keys_file(tmp_path: Path, limits: str) -> Path:
    path = tmp_path / "keys.yaml"
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    path.write_text(f"keys:\n  - {{name: team, sha256: {digest}, models: '*', {limits}}}\n")
    return path


# Per API: its path, a body, and how a line of text looks in its stream. Anthropic's stream
# reports output_tokens 0 in its first event; the count relayed must win over it.
LEAVING_EARLY = {
    "chat": (
        CHAT,
        {"messages": [{"role": "user", "content": "one two three four"}]},
        '"content":"',
    ),
    "messages": (
        "/v1/messages",
        {"max_tokens": 64, "messages": [{"role": "user", "content": "one two three four"}]},
        '"text_delta"',
    ),
}


@pytest.mark.parametrize("api", sorted(LEAVING_EARLY))
def test_leaving_a_stream_early_still_charges_its_tokens(
    fake: FakeLocalAI, tmp_path: Path, api: str
) -> None:
    path, fields, text = LEAVING_EARLY[api]
    fake.set_faults({"path": path, "slow_events_ms": 200})
    body = {"model": "chat", **fields}
    streamed = orjson.dumps({**body, "stream": True})
    prompt = len(streamed) // 4  # what the gateway charges on admission
    env = {"LOCALAI_GATEWAY_API_KEYS_FILE": str(keys_file(tmp_path, f"tpm: {prompt + 3}"))}
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    with gateway_process(registry(fake.url), tmp_path, env) as (url, _):
        with httpx.stream("POST", url + path, content=streamed, headers=headers) as reply:
            texts = (line for line in reply.iter_lines() if text in line)
            for _ in range(5):
                next(texts)  # five pieces of text arrive, then the client leaves
        time.sleep(0.5)
        again = httpx.post(url + path, json=body, headers=headers, timeout=10)
    assert again.status_code == 429, "prompt + the five pieces relayed exceed the minute's tokens"


class BlackHole:
    """A TCP server that accepts connections and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(connection)

    def __enter__(self) -> BlackHole:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


def test_a_hung_redis_lets_requests_through_within_2_s(fake: FakeLocalAI, tmp_path: Path) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    with BlackHole() as redis:
        env = {
            "LOCALAI_GATEWAY_API_KEYS_FILE": str(keys_file(tmp_path, "rpm: 600")),
            "LOCALAI_GATEWAY_RATE_LIMIT_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        }
        with gateway_process(registry(fake.url), tmp_path, env) as (url, _):
            for _ in range(3):
                started = time.monotonic()
                reply = httpx.post(
                    url + CHAT, json={"model": "chat", "messages": HELLO}, headers=headers
                )
                assert reply.status_code == 200, reply.text
                assert time.monotonic() - started < 2
            metrics = httpx.get(url + "/metrics").text
    assert "localai_gateway_rate_limit_store_errors_total 1.0" in metrics
