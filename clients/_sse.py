"""Incremental Server-Sent Events decoding: upstream byte chunks in, `data` payloads out."""

from __future__ import annotations

from collections.abc import AsyncIterator

DONE = b"[DONE]"


def _event_data(block: bytes) -> bytes | None:
    """Return the joined `data:` lines of one event block, or None for a comment-only block."""
    if block.startswith(b"data: ") and b"\n" not in block:
        return block[6:]
    lines = [
        line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")
    ]
    return b"\n".join(lines) if lines else None


async def iter_sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield each event's data payload once its blank line arrives; a cut-off tail is dropped."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        while (end := buffer.find(b"\n\n")) >= 0:
            data = _event_data(buffer[:end])
            buffer = buffer[end + 2 :]
            if data is not None:
                yield data
