"""Health probes through a real gateway process: never a fleet-wide 503 of their own making.

Issue 15, items 1-3: an upstream without a health endpoint is served; probes have their own
connections, so a pool full of long streams does not make them time out; when probes alone say
every replica is down, the replicas are still tried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import gateway_process
from tests.support.servers import FakeLocalAI

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]
PROBING = {"LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.2", "LOCALAI_GATEWAY_HEALTH_TIMEOUT": "0.5"}


def registry(url: str) -> str:
    return f"""
models:
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: [{{url: "{url}", name: only}}]
"""


@pytest.fixture
def fake() -> Iterator[FakeLocalAI]:
    with FakeLocalAI() as server:
        yield server


def ready(url: str) -> httpx.Response:
    return httpx.get(url + "/readyz", timeout=5)


def wait_for(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("status", [404, 405])
def test_an_upstream_without_a_health_endpoint_is_served(
    fake: FakeLocalAI, tmp_path: Path, status: int
) -> None:
    fake.set_faults({"path": "/readyz", "status": status, "times": None})
    with gateway_process(registry(fake.url), tmp_path, PROBING) as (url, _):
        time.sleep(0.6)  # several probe rounds
        assert ready(url).status_code == 200
        assert ready(url).json()["upstreams"]["only"]["healthy"] is True
        reply = httpx.post(url + CHAT, json={"model": "chat", "messages": HELLO}, timeout=10)
        assert reply.status_code == 200, reply.text
    probes = [r for r in fake.requests() if r["path"] == "/readyz"]
    assert len(probes) == 1, "a missing health endpoint is asked once"


def test_replicas_down_by_probes_alone_are_still_tried(fake: FakeLocalAI, tmp_path: Path) -> None:
    fake.set_faults({"path": "/readyz", "status": 503, "times": None})
    with gateway_process(registry(fake.url), tmp_path, PROBING) as (url, _):
        wait_for(lambda: ready(url).json()["upstreams"]["only"]["healthy"] is False)
        assert ready(url).status_code == 200, "panic: the replica is still tried"
        reply = httpx.post(url + CHAT, json={"model": "chat", "messages": HELLO}, timeout=10)
        assert reply.status_code == 200, reply.text


def test_long_streams_filling_the_pool_never_make_readyz_fail(
    fake: FakeLocalAI, tmp_path: Path
) -> None:
    """64 streams against a 16-connection pool while /readyz is polled (bench/soak_probes.py
    runs the same for 60 s)."""
    fake.set_faults({"path": CHAT, "slow_events_ms": 300, "times": None})
    env = {**PROBING, "LOCALAI_GATEWAY_MAX_CONNECTIONS": "16"}
    with gateway_process(registry(fake.url), tmp_path, env) as (url, _):
        outcomes: list[str] = []
        statuses: list[int] = []
        done = threading.Event()

        def stream() -> None:
            body = {"model": "chat", "messages": HELLO, "stream": True}
            with httpx.stream("POST", url + CHAT, json=body, timeout=60) as response:
                text = response.read().decode()
            ok = response.status_code == 200 and "[DONE]" in text and '"error"' not in text
            outcomes.append("ok" if ok else f"{response.status_code}: {text[-200:]}")

        def poll() -> None:
            while not done.is_set():
                statuses.append(ready(url).status_code)
                time.sleep(0.25)

        poller = threading.Thread(target=poll)
        poller.start()
        streams = [threading.Thread(target=stream) for _ in range(64)]
        for thread in streams:
            thread.start()
        for thread in streams:
            thread.join(60)
        done.set()
        poller.join(10)
    assert outcomes == ["ok"] * 64, [o for o in outcomes if o != "ok"][:3]
    assert len(statuses) >= 8 and set(statuses) == {200}
