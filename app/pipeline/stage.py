"""What a stream stage is, how it ends a stream early, and the chunk shapes stages build.

A stage is an object whose `run(chunks)` is an async generator over parsed
`chat.completion.chunk` dicts. Stages may modify the dicts they receive. Chunks without choices
(the usage trailer, error events) must pass through unchanged.
"""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

Chunk = dict[str, Any]
_ENVELOPE = ("id", "object", "created", "model", "system_fingerprint")


class Stage(Protocol):
    """One step of the chain."""

    def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]: ...


class InterruptStream(Exception):
    """Raised by a stage to end the stream now with `finish_reason=reason`.

    `chunk` is the chunk that triggered it (it is not sent); the chain sends a final chunk with the
    same envelope instead, and the caller closes the upstream.
    """

    def __init__(self, reason: str, detail: str, chunk: Chunk) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.chunk = chunk


def envelope(like: Chunk) -> Chunk:
    """A new chunk with `like`'s id, object, created, model and fingerprint, and no choices."""
    return {key: like[key] for key in _ENVELOPE if key in like}


def finish_chunk(like: Chunk, reason: str) -> Chunk:
    """The final chunk for every choice of `like`, with an empty delta."""
    chunk = envelope(like)
    indexes = [choice.get("index", 0) for choice in like.get("choices") or ()] or [0]
    chunk["choices"] = [{"index": i, "delta": {}, "finish_reason": reason} for i in indexes]
    return chunk


def delta_text(delta: dict[str, Any]) -> str:
    """The raw text of an upstream delta: content plus native reasoning (rarely both)."""
    content = delta.get("content")
    native = delta.get("reasoning_content") or delta.get("reasoning")
    if isinstance(native, str) and native:
        return content + native if isinstance(content, str) else native
    return content if isinstance(content, str) else ""
