"""Incremental Server-Sent Events decoding: upstream byte chunks in, `data` payloads out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

DONE = b"[DONE]"


class EventTooLarge(ValueError):
    """Raised when an unfinished event grows past the bound given to `iter_sse_batches`."""


def _event_data(block: bytes) -> bytes | None:
    """Return the joined `data:` lines of one event block, or None for a comment-only block."""
    lines = [line[5:].removeprefix(b" ") for line in block.split(b"\n") if line[:5] == b"data:"]
    return b"\n".join(lines) if lines else None


async def iter_sse_batches(
    chunks: AsyncIterator[bytes], max_pending: int | None = None
) -> AsyncGenerator[list[bytes]]:
    """Yield the data payloads of every event completed by one network read, as one batch.

    A burst of events costs one batch (and downstream one write) instead of one per event;
    paced events still come one per batch, as soon as their blank line arrives. A cut-off
    tail is dropped. More than `max_pending` bytes without an event end raise `EventTooLarge`.
    """
    buffer = b""
    async for chunk in chunks:
        buffer = buffer + chunk if buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        if b"\n\n" not in buffer:
            if max_pending is not None and len(buffer) > max_pending:
                raise EventTooLarge(f"a stream event is larger than {max_pending} bytes")
            continue
        *blocks, buffer = buffer.split(b"\n\n")
        # Most events are one `data: ` line; anything else (comments, several lines) is parsed.
        batch = [block[6:] for block in blocks if block[:6] == b"data: " and b"\n" not in block]
        if len(batch) != len(blocks):
            batch = [data for block in blocks if (data := _event_data(block)) is not None]
        if batch:
            yield batch
