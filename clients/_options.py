"""How a `LocalAIClient` is set up: the keyword options, what `timeout` and `base_url` become."""

from __future__ import annotations

from typing import TypedDict

import httpx

from ._config import DEFAULT_TIMEOUTS, Timeouts

DEFAULT_MAX_READ_BYTES = 128 * 1024 * 1024


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of `LocalAIClient` (and `SyncLocalAIClient`) after `base_url`."""

    api_key: str | None
    timeout: float | Timeouts | None
    max_retries: int
    transport: httpx.AsyncBaseTransport | None
    max_read_bytes: int | None


def timeouts_for(timeout: float | Timeouts | None) -> Timeouts:
    """A number caps every phase of a call (connect at most the default 5 s); None: only connect."""
    if isinstance(timeout, Timeouts):
        return timeout
    connect = DEFAULT_TIMEOUTS.connect
    if timeout is None:
        return Timeouts(connect=connect, first_token=None, idle=None, total=None)
    limit = float(timeout)
    return Timeouts(
        connect=min(connect or limit, limit), first_token=limit, idle=limit, total=limit
    )


def server_root(url: str) -> str:
    """The server's root: `http://host:8080` and `http://host:8080/v1/` both give the former."""
    root = url.rstrip("/").removesuffix("/v1")
    if not root.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL, not {url!r}")
    return root
