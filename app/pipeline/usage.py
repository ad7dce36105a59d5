"""Completion-token accounting when the upstream reports none."""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from app.pipeline.stage import Chunk, delta_text


class UsageTally:
    """Counts upstream deltas that carry text (content or reasoning), per choice.

    LocalAI streams one token per chunk, so the count approximates completion tokens; it is low
    when an upstream batches several tokens into one chunk.
    """

    __slots__ = ("deltas",)

    def __init__(self) -> None:
        self.deltas = 0

    def observe(self, chunk: Chunk) -> None:
        """Count the text-carrying deltas of one upstream chunk."""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if isinstance(delta, dict) and delta_text(delta):
                self.deltas += 1

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
        """Pass chunks through unchanged while counting them."""
        async for chunk in chunks:
            self.observe(chunk)
            yield chunk

    def completion_tokens(self, usage: dict[str, Any] | None) -> int:
        """The upstream's `completion_tokens` when it gave a positive one, else the delta count."""
        reported = (usage or {}).get("completion_tokens")
        if isinstance(reported, int) and not isinstance(reported, bool) and reported > 0:
            return reported
        return self.deltas
