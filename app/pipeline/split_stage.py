"""The streaming reasoning split: per choice, route delta text to content or reasoning fields."""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from app.pipeline.config import StreamConfig
from app.pipeline.reasoning import Splitter, make_splitter, put_reasoning, take_native_reasoning
from app.pipeline.stage import Chunk, envelope


class ReasoningStage:
    """Rewrites each delta to `content` (answer only, None when empty) plus the reasoning fields.

    Reasoning the upstream sent itself (`delta.reasoning`) is moved to the configured fields too.
    With `include_reasoning=False` reasoning is dropped. A chunk left with nothing to say (its text
    was a held-back partial tag or dropped reasoning) is not sent. Text held back at a choice's
    finish goes into that finish chunk's delta.
    """

    def __init__(self, config: StreamConfig, include_reasoning: bool) -> None:
        self._config = config
        self._fields = config.reasoning_fields if include_reasoning else ()
        self._splitters: dict[int, Splitter] = {}

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
        last: Chunk | None = None
        async for chunk in chunks:
            choices = chunk.get("choices")
            if not choices:
                yield chunk
                continue
            last = chunk
            emptied = False
            for choice in choices:
                emptied |= self._rewrite(choice)
            if not emptied or not all(_is_silent(choice) for choice in choices):
                yield chunk
        if last is not None and self._splitters:
            tail = self._flush_all(last)
            if tail is not None:
                yield tail

    def _rewrite(self, choice: dict[str, Any]) -> bool:
        """Split one choice's delta in place; True when it had text and now shows none."""
        index = choice.get("index", 0)
        delta = choice.get("delta")
        finished = choice.get("finish_reason") is not None
        if not isinstance(delta, dict):
            if finished:
                delta = choice["delta"] = {}
            else:
                return False
        text = delta.get("content")
        native = take_native_reasoning(delta)
        splitter = self._splitters.get(index)
        if splitter is None:
            splitter = self._splitters[index] = make_splitter(self._config)
        content, reasoning = splitter.feed(text) if isinstance(text, str) else ("", "")
        if finished:
            rest_content, rest_reasoning = splitter.flush()
            content += rest_content
            reasoning += rest_reasoning
            del self._splitters[index]
        if native:
            reasoning = native + reasoning
        if "content" in delta or content:
            delta["content"] = content or None
        put_reasoning(delta, reasoning, self._fields)
        return bool(text or native) and not content and not (reasoning and self._fields)

    def _flush_all(self, last: Chunk) -> Chunk | None:
        """Text still held back when the upstream ended without a finish chunk."""
        choices = []
        for index, splitter in self._splitters.items():
            content, reasoning = splitter.flush()
            delta: dict[str, Any] = {"content": content or None}
            put_reasoning(delta, reasoning, self._fields)
            if content or len(delta) > 1:
                choices.append({"index": index, "delta": delta, "finish_reason": None})
        self._splitters.clear()
        if not choices:
            return None
        chunk = envelope(last)
        chunk["choices"] = choices
        return chunk


def _is_silent(choice: dict[str, Any]) -> bool:
    """A choice with no finish reason whose delta holds only empty values."""
    if choice.get("finish_reason") is not None:
        return False
    delta = choice.get("delta")
    return not isinstance(delta, dict) or all(v is None or v == "" for v in delta.values())
