"""Admission: a concurrency limit with a bounded, timed wait queue; beyond it a 429."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import Overloaded
from app.upstream.admission import Admission


async def test_slots_up_to_the_limit_are_taken_at_once() -> None:
    admission = Admission("m", limit=2, max_queue=0, timeout=1)
    await admission.acquire()
    await admission.acquire()
    with pytest.raises(Overloaded) as info:
        await admission.acquire()
    assert info.value.headers == {"retry-after": "1"}
    assert "2 running, 0 queued" in info.value.message


async def test_a_queued_request_gets_the_next_released_slot() -> None:
    admission = Admission("m", limit=1, max_queue=1, timeout=5)
    await admission.acquire()
    waiter = asyncio.ensure_future(admission.acquire())
    await asyncio.sleep(0.01)
    assert admission.waiting == 1 and not waiter.done()
    admission.release()
    await asyncio.wait_for(waiter, 1)
    assert admission.waiting == 0


async def test_the_queue_is_bounded_and_its_wait_is_timed() -> None:
    admission = Admission("m", limit=1, max_queue=1, timeout=0.05)
    await admission.acquire()
    queued = asyncio.ensure_future(admission.acquire())
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded, match="1 running, 1 queued"):
        await admission.acquire()  # the queue is full: refused at once
    with pytest.raises(Overloaded, match=r"within 0\.05s"):
        await queued
    assert admission.waiting == 0


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    admission = Admission("m", limit=1, max_queue=4, timeout=5)
    await admission.acquire()
    waiter = asyncio.ensure_future(admission.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert admission.waiting == 0
    admission.release()
    await asyncio.wait_for(admission.acquire(), 1)  # the slot went to nobody else
