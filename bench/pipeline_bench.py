"""Per-chunk cost of the stream chain (app/pipeline) on LocalAI-shaped chunks.

Runs 10 streams of 1,000 one-token chunks per scenario through `build_chain(...).run`, and the
same chunks through a bare async loop; prints the chain's added cost in microseconds per chunk
(best and median of --rounds). Chunks are built before timing (the chain mutates them), so JSON
parsing is not counted. Usage: .venv/bin/python bench/pipeline_bench.py [--rounds 5]
"""

import argparse
import asyncio
import copy
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.pipeline import RepetitionGuardConfig, RequestOptions, StreamConfig, build_chain

Chunk = dict[str, Any]
Runner = Callable[[list[list[Chunk]], StreamConfig], Awaitable[int]]
STREAMS, CHUNKS = 10, 1_000
VOCABULARY = (
    "the gateway relays each token to a client as soon as it arrives from LocalAI while keeping",
    "latency low and memory flat under load , . ; : 中文 😀 ( ) [ ] <b> </b> 1 2 3",
)
BANNED = ("as an AI language model", "idiot", "secret plan")


def chunk(content: str | None, finish: str | None = None) -> Chunk:
    return {
        "created": 1700000000,
        "object": "chat.completion.chunk",
        "id": "0b7c1d5e-6f0a-4d47-9a39-6c2e3e0f1b11",
        "model": "qwen3-8b",
        "choices": [{"index": 0, "finish_reason": finish, "delta": {"content": content}}],
    }


def tokens(n: int) -> list[str]:
    """Seeded random words with a leading space, like BPE tokens (not periodic: no guard trips)."""
    rng = random.Random(7)
    words = " ".join(VOCABULARY).split(" ")
    return [" " + rng.choice(words) for _ in range(n)]


def think_stream() -> list[Chunk]:
    """30% reasoning inside <think>...</think> (tags split over two chunks), then the answer."""
    body = tokens(CHUNKS - 6)
    cut = len(body) * 3 // 10
    pieces = ["<thi", "nk>", *body[:cut], "</", "think>", *body[cut:]]
    return [chunk(None), *map(chunk, pieces), chunk(None, "stop")]


def harmony_stream() -> list[Chunk]:
    """gpt-oss: an analysis message, then a final message, markers as their own tokens."""
    body = tokens(CHUNKS - 14)
    cut = len(body) * 3 // 10
    header = ["<|start|>", "assistant", "<|channel|>", "final", "<|message|>"]
    pieces = ["<|channel|>", "analysis", "<|message|>", *body[:cut], "<|end|>", *header]
    pieces += [*body[cut:], "<|return|>"]
    return [chunk(None), *map(chunk, pieces), chunk(None, "stop")]


def plain_stream() -> list[Chunk]:
    return [chunk(None), *map(chunk, tokens(CHUNKS - 2)), chunk(None, "stop")]


GUARD = {"repetition_guard": RepetitionGuardConfig(), "max_output_chars": 1_000_000}
SCENARIOS: dict[str, tuple[StreamConfig, Callable[[], list[Chunk]]]] = {
    "think split": (StreamConfig(reasoning="think"), think_stream),
    "harmony split": (StreamConfig(reasoning="harmony"), harmony_stream),
    "guard (repetition + max chars)": (StreamConfig(**GUARD), plain_stream),
    "banned phrases (3)": (StreamConfig(banned_phrases=BANNED), plain_stream),
    "all: think + guard + banned": (
        StreamConfig(reasoning="think", banned_phrases=BANNED, **GUARD),
        think_stream,
    ),
}


async def _source(chunks: list[Chunk]) -> AsyncIterator[Chunk]:
    for item in chunks:
        yield item


async def bare(streams: list[list[Chunk]], config: StreamConfig) -> int:
    sent = 0
    for chunks in streams:
        async for _ in _source(chunks):
            sent += 1
    return sent


async def chained(streams: list[list[Chunk]], config: StreamConfig) -> int:
    sent = 0
    for chunks in streams:
        chain = build_chain(config, RequestOptions())
        assert chain is not None
        async for _ in chain.run(_source(chunks)):
            sent += 1
        assert chain.interruption is None, chain.interruption
    return sent


async def per_chunk(runner: Runner, config: StreamConfig, make: Callable[[], list[Chunk]]) -> float:
    """Microseconds per input chunk for one round."""
    template = make()
    streams = [copy.deepcopy(template) for _ in range(STREAMS)]
    start = time.perf_counter_ns()
    await runner(streams, config)
    return (time.perf_counter_ns() - start) / 1000 / (STREAMS * len(template))


async def main(rounds: int) -> None:
    print(f"{STREAMS} streams x {CHUNKS} chunks; us per chunk, best (median) of {rounds} rounds")
    print(f"{'scenario':32} {'bare loop':>10} {'with chain':>14} {'added':>14}")
    for name, (config, make) in SCENARIOS.items():
        base: list[float] = []
        full: list[float] = []
        for _ in range(rounds):
            base.append(await per_chunk(bare, config, make))
            full.append(await per_chunk(chained, config, make))
        added = [f - b for f, b in zip(full, base, strict=True)]
        print(
            f"{name:32} {min(base):10.2f} {min(full):7.2f} ({statistics.median(full):4.2f})"
            f" {min(added):7.2f} ({statistics.median(added):4.2f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Per-chunk cost of the stream chain.")
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
