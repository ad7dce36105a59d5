"""Write a Reply to the ASGI `send`, applying a fault's timing and breakage, and notice
when the client goes away (Starlette's StreamingResponse watches `receive` the same way)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ._faults import STALL_FOREVER, Fault
from ._http import Reply
from ._state import Stats
from ._types import Receive, Send

_GARBAGE_EVENT = b'data: {"id":"trunc\n\n'


class SimulatedCut(Exception):
    """Raised after a `cut_after_events` fault so the server drops the connection mid-body."""


@dataclass
class _Progress:
    finishing: bool = False
    disconnected: bool = False


async def deliver(
    reply: Reply, fault: Fault | None, receive: Receive, send: Send, stats: Stats
) -> None:
    """Send `reply`, counting an early client disconnect; raise SimulatedCut to cut it."""
    fault = fault or Fault()
    progress = _Progress()
    stats.active_requests += 1
    stats.active_streams += reply.stream
    cut = False
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_watch_disconnect, receive, progress, group.cancel_scope)
            cut = await _write(reply, fault, send, progress)
            group.cancel_scope.cancel()
    except* OSError:  # servers that raise on a send to a closed connection
        progress.disconnected = True
    finally:
        stats.active_requests -= 1
        stats.active_streams -= reply.stream
        stats.disconnected += progress.disconnected
    if cut and not progress.disconnected:
        stats.cut += 1
        raise SimulatedCut(f"fault: connection cut after {fault.cut_after_events} events")


async def _watch_disconnect(
    receive: Receive, progress: _Progress, scope: anyio.CancelScope
) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    # A disconnect seen while the last event goes out is the normal end of the response.
    if not progress.finishing:
        progress.disconnected = True
        scope.cancel()


async def _write(reply: Reply, fault: Fault, send: Send, progress: _Progress) -> bool:
    """Send headers and events; True when the fault says to cut the connection instead."""
    events = _malformed(reply) if fault.malformed_json else reply.events
    headers = list(reply.headers)
    if not reply.stream:
        headers.append(("content-length", str(sum(map(len, events)))))
    if fault.stall_before_headers:
        await anyio.sleep(fault.stall_before_headers)
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
    )
    if fault.stall_before_first_event:
        await anyio.sleep(fault.stall_before_first_event)
    for index, event in enumerate(events):
        if index == fault.cut_after_events:
            return True
        if index == fault.stall_after_events:
            await anyio.sleep(fault.stall_seconds or STALL_FOREVER)
        if fault.slow_events_ms and index:
            await anyio.sleep(fault.slow_events_ms / 1000)
        progress.finishing = index == len(events) - 1
        await send(
            {"type": "http.response.body", "body": event, "more_body": not progress.finishing}
        )
    if not events:
        progress.finishing = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return False


def _malformed(reply: Reply) -> list[bytes]:
    """A stream with its first content event replaced by garbage, or a body cut in half."""
    events = list(reply.events)
    if reply.stream:
        events[min(1, len(events) - 1)] = _GARBAGE_EVENT
    elif events:
        events[0] = events[0][: len(events[0]) // 2]
    return events
