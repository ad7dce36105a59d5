"""SSE decoding: events arrive whole however the bytes are split."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clients import EventTooLarge, iter_sse_batches

STREAM = (
    b'data: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\r\n\r\ndata: x\ndata: y\n\n'
    b'data:{"c":3}\n\ndata: [DONE]\n\n'
)
EXPECTED = [b'{"a":1}', b'{"b":2}', b"x\ny", b'{"c":3}', b"[DONE]"]


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(data: bytes, size: int) -> list[bytes]:
    return [event async for batch in iter_sse_batches(chunks_of(data, size)) for event in batch]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
async def test_events_survive_any_split(size: int) -> None:
    assert await collect(STREAM, size) == EXPECTED


async def test_cut_off_tail_is_dropped() -> None:
    assert await collect(b'data: {"a":1}\n\ndata: {"tru', 5) == [b'{"a":1}']


async def test_events_one_read_completes_come_as_one_batch() -> None:
    batches = [batch async for batch in iter_sse_batches(chunks_of(STREAM, len(STREAM)))]
    assert batches == [EXPECTED]


async def test_an_event_past_the_bound_raises_and_one_within_it_passes() -> None:
    event = b'data: {"a":"' + b"x" * 100 + b'"}\n\n'
    batches = iter_sse_batches(chunks_of(event * 2, 10), max_pending=len(event))
    assert len([e async for batch in batches for e in batch]) == 2
    with pytest.raises(EventTooLarge, match="larger than 50 bytes"):
        async for _ in iter_sse_batches(chunks_of(event, 10), max_pending=50):
            pass
