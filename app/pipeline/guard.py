"""Runaway-output guards on the raw upstream deltas: repetition loops and a character budget."""

from collections.abc import AsyncGenerator, AsyncIterator

from app.pipeline.config import RepetitionGuardConfig, StreamConfig
from app.pipeline.stage import Chunk, InterruptStream, delta_text


class RepetitionDetector:
    """Watches a sequence of tokens for a tail made of one short pattern repeated too often.

    `push` scans the last `max_period` tokens in C; Python work happens only for earlier copies
    of the new token, and a full comparison only when the token before matches too.
    """

    __slots__ = ("_history", "_keep", "_max_period", "_repeats")

    def __init__(self, config: RepetitionGuardConfig) -> None:
        self._max_period = config.max_period
        self._repeats = config.max_repeats
        self._keep = config.window
        self._history: list[str] = []

    def push(self, token: str) -> int | None:
        """Add a token; return the pattern length when the tail repeats more than allowed."""
        history = self._history
        history.append(token)
        size = len(history)
        if size > 2 * self._keep:
            del history[: size - self._keep]
            size = self._keep
        recent = history[max(0, size - 1 - self._max_period) : size - 1]
        found = recent.count(token)
        at = -1
        for _ in range(found):
            at = recent.index(token, at + 1)
            period = len(recent) - at
            span = period * (self._repeats + 1)
            if span <= size and self._periodic(period, span):
                return period
        return None

    def _periodic(self, period: int, span: int) -> bool:
        """Whether the last `span` tokens repeat with `period` (checks the previous token first)."""
        history = self._history
        size = len(history)
        if history[size - 2] != history[size - 2 - period]:
            return False
        return history[size - span + period :] == history[size - span : size - period]


class GuardStage:
    """Interrupts with `repetition` when a choice loops, `length` past `max_output_chars`.

    Characters are counted over all choices' raw text (content, including any tags, plus native
    reasoning): reasoning dropped for the client still costs time. The offending chunk is not sent.
    """

    def __init__(self, config: StreamConfig) -> None:
        self._guard = config.repetition_guard
        self._budget = config.max_output_chars
        self._detectors: dict[int, RepetitionDetector] = {}
        self._chars = 0

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
        async for chunk in chunks:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    text = delta_text(delta)
                    if text:
                        self._check(choice.get("index", 0), text, chunk)
            yield chunk

    def _check(self, index: int, text: str, chunk: Chunk) -> None:
        if self._budget is not None:
            self._chars += len(text)
            if self._chars > self._budget:
                raise InterruptStream("length", f"output exceeds {self._budget} characters", chunk)
        if self._guard is not None:
            detector = self._detectors.get(index)
            if detector is None:
                detector = self._detectors[index] = RepetitionDetector(self._guard)
            period = detector.push(text)
            if period is not None:
                detail = f"a {period}-token pattern repeated over {self._guard.max_repeats} times"
                raise InterruptStream("repetition", detail, chunk)
