"""Output validators: banned phrases (case-insensitive substrings) and the character budget.

Streamed, `BannedPhraseStage` checks the text the client would see, including phrases split across
chunks, and interrupts with `content_filter`; the chunk completing the phrase is not sent (earlier
chunks holding its start already were). Non-streamed, `check_output` returns the violation.
Matching lowercases the text and tests each phrase in turn: about 50 ns per phrase per chunk.
"""

from collections.abc import AsyncGenerator, AsyncIterator

from app.pipeline.config import StreamConfig
from app.pipeline.stage import Chunk, InterruptStream


def find_banned(lowered: str, phrases: tuple[str, ...]) -> str | None:
    """The first of the (lowercase) `phrases` found in `lowered`, or None."""
    for phrase in phrases:
        if phrase in lowered:
            return phrase
    return None


def check_output(text: str, config: StreamConfig | None) -> str | None:
    """The first violation in a complete output, as a sentence, or None when it passes.

    Pass everything the client would see (content and, if sent, reasoning).
    """
    if config is None:
        return None
    if config.max_output_chars is not None and len(text) > config.max_output_chars:
        return f"output exceeds {config.max_output_chars} characters"
    phrase = find_banned(text.lower(), config.banned_lowered)
    if phrase is not None:
        return f"output contains banned phrase {phrase!r}"
    return None


class BannedPhraseStage:
    """Interrupts with `content_filter` when client-visible text contains a banned phrase."""

    def __init__(self, config: StreamConfig) -> None:
        self._phrases = config.banned_lowered
        self._fields = ("content", config.reasoning_field)
        self._overlap = max(map(len, self._phrases)) - 1
        self._tails: dict[tuple[int, str], str] = {}

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
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
            window = self._tails.get(key, "") + text.lower()
            phrase = find_banned(window, self._phrases)
            if phrase is not None:
                raise InterruptStream("content_filter", f"banned phrase {phrase!r}", chunk)
            self._tails[key] = window[-self._overlap :] if self._overlap else ""
