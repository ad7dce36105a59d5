"""Upstream chunks shaped like LocalAI's, and a runner that shows what a client sees."""

from collections.abc import AsyncIterator, Iterable
from typing import Any

from app.pipeline import Chain

Chunk = dict[str, Any]


def chunk(
    content: str | None = None,
    finish: str | None = None,
    index: int = 0,
    **delta: Any,
) -> Chunk:
    """One `chat.completion.chunk` as LocalAI sends it (`content` is null when empty)."""
    return {
        "created": 1700000000,
        "object": "chat.completion.chunk",
        "id": "3f2b",
        "model": "qwen3",
        "choices": [
            {
                "index": index,
                "finish_reason": finish,
                "delta": {"content": content, **delta},
            }
        ],
    }


def stream(pieces: Iterable[str], finish: str | None = "stop") -> list[Chunk]:
    """Role chunk, one chunk per piece of content, then the finish chunk (unless None)."""
    chunks = [chunk(role="assistant")]
    chunks += [chunk(piece) for piece in pieces]
    if finish is not None:
        chunks.append(chunk(finish=finish))
    return chunks


async def _source(chunks: Iterable[Chunk]) -> AsyncIterator[Chunk]:
    for item in chunks:
        yield item


async def run(chain: Chain | None, chunks: Iterable[Chunk]) -> list[Chunk]:
    """Every chunk the chain sends for `chunks`."""
    assert chain is not None
    return [item async for item in chain.run(_source(chunks))]


def seen(chunks: list[Chunk]) -> list[tuple[dict[str, Any], str | None]]:
    """Per sent chunk of a one-choice stream: its delta and finish_reason."""
    return [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]


def joined(chunks: list[Chunk], field: str) -> str:
    """All text a client accumulates from `field` over a one-choice stream."""
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks if c["choices"])
