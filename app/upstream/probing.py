"""What an active health probe's answer says about an upstream.

200 is up. 404 or 405 means the upstream has no health endpoint there (a llama.cpp or vLLM
server, a stub): it is judged by its traffic alone from then on, and that is logged once. A
probe that times out while the upstream answered real traffic within `grace` seconds says only
that the upstream is busy, not that it is down. Anything else is down.
"""

from __future__ import annotations

import logging

from clients import UpstreamError, UpstreamTimeout

from .replicas import Upstream

log = logging.getLogger("localai_gateway.probing")

NO_HEALTH_ENDPOINT = frozenset({404, 405})


def judge(upstream: Upstream, answer: int | UpstreamError, now: float, grace: float) -> None:
    """Record on `upstream` what a probe answered: a status, or the error it raised."""
    if isinstance(answer, int) and answer in NO_HEALTH_ENDPOINT:
        log.warning(
            "upstream %s has no health endpoint at %s (HTTP %d): judged by its traffic only",
            upstream.name,
            upstream.health_path,
            answer,
        )
        upstream.probed = False
        healthy = True
    elif isinstance(answer, UpstreamTimeout) and now - upstream.last_success < grace:
        healthy = True  # busy with traffic it answers, not down
    else:
        healthy = answer == 200
    if healthy != upstream.healthy:
        log.warning("upstream %s is now %s", upstream.name, "up" if healthy else "down")
    upstream.healthy = healthy
