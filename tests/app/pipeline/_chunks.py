"""A runner that shows what a client sees of a chain, over LocalAI-shaped chunks."""

from collections.abc import AsyncIterator, Iterable
from typing import Any

from app.pipeline import Chain
from tests.support.chunks import Chunk, chunk, stream

__all__ = ["Chunk", "chunk", "joined", "run", "seen", "stream"]


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
