"""Probe soak: long streams fill the upstream pool while /readyz is polled (issue 15, item 2).

    .venv/bin/python bench/soak_probes.py [--seconds 60] [--streams 64] [--pool 16]

`--streams` clients stream over and over through a gateway whose pool has `--pool` connections,
from a fake LocalAI that paces its events, while /readyz is polled every 0.5 s. The gateway
must never answer /readyz with 503 and no request may get `upstream_unavailable`. Everything
runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.conftest import gateway_process
from tests.support.servers import FakeLocalAI

REGISTRY = """
models:
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: [{{url: "{url}", name: only}}]
"""
BODY = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


async def streams(url: str, until: float, outcomes: collections.Counter[str]) -> None:
    """Stream again and again until `until`, counting how each stream ended."""
    async with httpx.AsyncClient(timeout=120) as client:
        while time.monotonic() < until:
            async with client.stream("POST", url + "/v1/chat/completions", json=BODY) as reply:
                text = (await reply.aread()).decode()
            if "upstream_unavailable" in text:
                outcomes["upstream_unavailable"] += 1
            elif reply.status_code == 200 and "[DONE]" in text and '"error"' not in text:
                outcomes["ok"] += 1
            else:
                outcomes[f"failed {reply.status_code}"] += 1


async def poll(url: str, until: float, statuses: collections.Counter[int]) -> None:
    """GET /readyz every 0.5 s until `until`."""
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < until:
            statuses[(await client.get(url + "/readyz")).status_code] += 1
            await asyncio.sleep(0.5)


async def soak(url: str, seconds: float, count: int) -> tuple[dict[str, int], dict[int, int]]:
    outcomes: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[int] = collections.Counter()
    until = time.monotonic() + seconds
    await asyncio.gather(
        poll(url, until, statuses), *(streams(url, until, outcomes) for _ in range(count))
    )
    return dict(outcomes), dict(statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--pool", type=int, default=16)
    args = parser.parse_args()
    env = {
        "LOCALAI_GATEWAY_MAX_CONNECTIONS": str(args.pool),
        "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.5",
        "LOCALAI_GATEWAY_HEALTH_TIMEOUT": "1",
    }
    with tempfile.TemporaryDirectory() as tmp, FakeLocalAI() as fake:
        fake.set_faults({"path": "/v1/chat/completions", "slow_events_ms": 300, "times": None})
        with gateway_process(REGISTRY.format(url=fake.url), Path(tmp), env) as (url, _):
            outcomes, statuses = asyncio.run(soak(url, args.seconds, args.streams))
    print(f"{args.streams} streams over a {args.pool}-connection pool for {args.seconds:.0f} s")
    print(f"streams: {outcomes}")
    print(f"/readyz: {statuses}")
    healthy = set(statuses) == {200} and set(outcomes) == {"ok"}
    print("PASS" if healthy else "FAIL")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
