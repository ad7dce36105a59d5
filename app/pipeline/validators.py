"""Output validators: banned phrases (case-insensitive substrings) and the character budget.

Streamed, `BannedPhraseStage` checks the text the client would see, including phrases split across
chunks, and interrupts with `content_filter`; the chunk completing the phrase is not sent (earlier
chunks holding its start already were). Non-streamed, `check_output` returns the violation.
"""

import functools
import re
from collections.abc import AsyncIterator

from app.pipeline.config import StreamConfig
from app.pipeline.stage import Chunk, InterruptStream


@functools.lru_cache(maxsize=256)
def banned_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled alternation for a model's phrases (compiled once per distinct list)."""
    return re.compile("|".join(map(re.escape, phrases)), re.IGNORECASE)


def check_output(text: str, config: StreamConfig | None) -> str | None:
    """The first violation in a complete output, as a sentence, or None when it passes.

    Pass everything the client would see (content and, if sent, reasoning).
    """
    if config is None:
        return None
    if config.max_output_chars is not None and len(text) > config.max_output_chars:
        return f"output exceeds {config.max_output_chars} characters"
    if config.banned_phrases:
        match = banned_pattern(config.banned_phrases).search(text)
        if match is not None:
            return f"output contains banned phrase {match.group(0)!r}"
    return None


class BannedPhraseStage:
    """Interrupts with `content_filter` when client-visible text contains a banned phrase."""

    def __init__(self, config: StreamConfig) -> None:
        self._pattern = banned_pattern(config.banned_phrases)
        self._fields = ("content", config.reasoning_field)
        self._overlap = max(map(len, config.banned_phrases)) - 1
        self._tails: dict[tuple[int, str], str] = {}

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        async for chunk in chunks:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    self._check(choice.get("index", 0), delta, chunk)
            yield chunk

    def _check(self, index: int, delta: dict[str, object], chunk: Chunk) -> None:
        for field in self._fields:
            text = delta.get(field)
            if not isinstance(text, str) or not text:
                continue
            key = (index, field)
            window = self._tails.get(key, "") + text
            match = self._pattern.search(window)
            if match is not None:
                detail = f"banned phrase {match.group(0)!r}"
                raise InterruptStream("content_filter", detail, chunk)
            self._tails[key] = window[-self._overlap :] if self._overlap else ""
