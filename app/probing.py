"""Active health probing: every replica URL's `/readyz`, in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from clients import LocalAIClient, Timeouts, UpstreamError

from .replicas import Upstream

log = logging.getLogger("localai_gateway.probing")


async def probe(client: LocalAIClient, upstream: Upstream, limit: float) -> None:
    """Ask one upstream's `/readyz` and record the verdict (an error counts as down)."""
    limits = Timeouts(connect=limit, first_token=limit, idle=limit, total=limit)
    try:
        healthy = await client.health(upstream.url, timeouts=limits)
    except UpstreamError:
        healthy = False
    if healthy != upstream.healthy:
        log.warning("upstream %s is now %s", upstream.url, "up" if healthy else "down")
    upstream.healthy = healthy


async def probe_all(client: LocalAIClient, upstreams: Iterable[Upstream], limit: float) -> None:
    """Probe every upstream at once."""
    await asyncio.gather(*(probe(client, upstream, limit) for upstream in upstreams))


async def probe_forever(
    client: LocalAIClient, upstreams: Iterable[Upstream], interval: float, limit: float
) -> None:
    """Probe every `interval` seconds until cancelled."""
    upstreams = tuple(upstreams)
    while True:
        await asyncio.sleep(interval)
        await probe_all(client, upstreams, limit)
