"""Bounded resilience soak: 64 concurrent streams through the gateway for N seconds while one of
two fake LocalAI replicas is killed and restarted. Reports requests, failures and gateway RSS.

    .venv/bin/python bench/soak_resilience.py [--seconds 60] [--concurrency 64]

A request "reached a healthy replica" unless it was in flight on the replica when it was killed;
those may end with an error event (nothing is retried after the first byte). Every other request
must succeed. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.conftest import gateway_process
from tests.support.servers import FakeLocalAI

ANSWER = "mocked response to: one two three four five six seven eight"
BODY = {
    "model": "pair",
    "stream": True,
    "messages": [{"role": "user", "content": "one two three four five six seven eight"}],
}
SETTINGS = {
    "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.5",
    "LOCALAI_GATEWAY_CONNECT_TIMEOUT": "1",
    "LOCALAI_GATEWAY_BREAKER_COOLDOWN": "2",
    "LOCALAI_GATEWAY_KEEPALIVE_INTERVAL": "0",
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_stream(client: httpx.AsyncClient, url: str) -> bool:
    text = []
    async with client.stream("POST", url + "/v1/chat/completions", json=BODY) as response:
        if response.status_code != 200:
            return False
        done = False
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: ") and '"error"' not in line[:20]:
                chunk = orjson.loads(line[6:])
                if chunk.get("choices"):
                    text.append(chunk["choices"][0]["delta"].get("content") or "")
            elif line.startswith("data: "):
                return False
    return done and "".join(text) == ANSWER


async def soak(url: str, seconds: float, concurrency: int, events: list[tuple[float, str]]) -> dict:
    results: list[tuple[float, float, bool]] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    ok = await one_stream(client, url)
                except httpx.HTTPError:
                    ok = False
                results.append((started, time.monotonic(), ok))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    kill = next(t for t, what in events if what == "kill")
    in_flight_at_kill = [r for r in results if r[0] <= kill <= r[1]]
    others = [r for r in results if not (r[0] <= kill <= r[1])]
    return {
        "requests": len(results),
        "ok": sum(r[2] for r in results),
        "failed_in_flight_on_kill": sum(not r[2] for r in in_flight_at_kill),
        "failed_other": sum(not r[2] for r in others),
        "p50_s": statistics.median(r[1] - r[0] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with FakeLocalAI() as a, FakeLocalAI() as b, tempfile.TemporaryDirectory() as tmp:
        for fake in (a, b):
            fake.set_faults({"slow_events_ms": 20, "times": None})
        registry = f"""
models:
  pair:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: [{a.url}, {b.url}]
"""
        with gateway_process(registry, Path(tmp), SETTINGS) as (url, process):
            events: list[tuple[float, str]] = []
            samples: list[tuple[float, float]] = []
            idle_rss = rss_mb(process.pid)

            async def chaos() -> None:
                await asyncio.sleep(args.seconds * 0.25)
                events.append((time.monotonic(), "kill"))
                await asyncio.to_thread(a.kill)
                await asyncio.sleep(args.seconds * 0.35)
                await asyncio.to_thread(a.restart)
                a.set_faults({"slow_events_ms": 20, "times": None})
                events.append((time.monotonic(), "restart"))

            async def sample() -> None:
                start = time.monotonic()
                while time.monotonic() - start < args.seconds:
                    samples.append((time.monotonic() - start, rss_mb(process.pid)))
                    await asyncio.sleep(1)

            async def run() -> dict:
                result, *_ = await asyncio.gather(
                    soak(url, args.seconds, args.concurrency, events), chaos(), sample()
                )
                return result

            result = asyncio.run(run())
    rss = [mb for _, mb in samples]
    third = max(1, len(rss) // 3)
    print(
        f"soak: {args.concurrency} concurrent streams for {args.seconds:.0f} s, replica A killed "
        f"at 25% and restarted at 60%"
    )
    for key, value in result.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    early, late = statistics.median(rss[:third]), statistics.median(rss[-third:])
    print(
        f"  gateway RSS MB: idle {idle_rss:.1f}, first third median {early:.1f}, "
        f"last third median {late:.1f}, max {max(rss):.1f}"
    )
    if result["failed_other"]:
        sys.exit(f"FAIL: {result['failed_other']} requests that did not meet the kill were lost")


if __name__ == "__main__":
    main()
