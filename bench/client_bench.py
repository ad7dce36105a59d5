"""What the typed client costs per call: LocalAIClient.chat_completion vs openai.AsyncOpenAI.

Both send sequential non-streaming chat completions to the nginx stub of ../shared/bench (a
fixed 644-byte reply), in interleaved blocks whose order alternates, so a neighbour stealing
CPU hits both. The stub runs on a free port with its state in a temporary folder, so another
benchmark's stub on :18080 is left alone.

    .venv/bin/python bench/client_bench.py [--calls 2000] [--rounds 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai

from clients import LocalAIClient

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
MESSAGES = [{"role": "user", "content": "Hello"}]
MODEL = "bench-model"
Call = Callable[[], Awaitable[object]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def stub(shared: Path) -> Iterator[str]:
    """The shared nginx stub on a free port, stopped on exit; yields its base URL."""
    port = str(free_port())
    with tempfile.TemporaryDirectory(prefix="client-bench-") as workdir:
        env = {**os.environ, "BENCH_WORKDIR": workdir}
        script = str(shared / "run_bench.sh")
        subprocess.run([script, "stub-start", "--port", port], env=env, check=True)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            subprocess.run([script, "stub-stop", "--port", port], env=env, check=True)


async def timed(call: Call, calls: int) -> float:
    """Seconds per call over `calls` sequential calls."""
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


async def measure(base_url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    """Per-call seconds of each client in every round (interleaved, order alternating)."""
    async with (
        LocalAIClient(base_url, api_key="sk-bench", max_retries=0) as client,
        openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-bench", max_retries=0) as sdk,
    ):

        async def ours() -> object:
            return (await client.chat_completion(MESSAGES, MODEL)).content

        async def theirs() -> object:
            reply = await sdk.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
            return reply.choices[0].message.content

        targets: dict[str, Call] = {"LocalAIClient": ours, "openai.AsyncOpenAI": theirs}
        assert await ours() == await theirs(), "both read the same answer"
        for call in targets.values():  # warm-up: connections, caches, imports
            await timed(call, 100)
        results: dict[str, list[float]] = {name: [] for name in targets}
        order = list(targets)
        for _ in range(rounds):
            for name in order:
                results[name].append(await timed(targets[name], calls // rounds))
            order.reverse()
        return results


def report(results: dict[str, list[float]], calls: int) -> dict[str, object]:
    """Median and range of the per-call time per client, in microseconds."""
    summary: dict[str, object] = {
        "calls_each": calls,
        "loadavg": os.getloadavg()[0],
        "versions": {"openai": openai.__version__, "httpx": httpx.__version__},
    }
    for name, per_round in results.items():
        micro = [seconds * 1e6 for seconds in per_round]
        summary[name] = {
            "median_us": round(statistics.median(micro), 1),
            "min_us": round(min(micro), 1),
            "max_us": round(max(micro), 1),
        }
    ours = results["LocalAIClient"]
    theirs = results["openai.AsyncOpenAI"]
    summary["ratio_median"] = round(statistics.median(ours) / statistics.median(theirs), 3)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per client")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved blocks per client")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared bench folder")
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    args = parser.parse_args()
    with stub(args.shared) as base_url:
        results = asyncio.run(measure(base_url, args.calls, args.rounds))
    summary = report(results, args.calls)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
