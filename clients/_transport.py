"""The default HTTP transport, and the one place transport failures become `UpstreamError`s."""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ._config import PoolLimits
from ._errors import (
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)


def default_transport(limits: PoolLimits) -> httpx.AsyncBaseTransport:
    """Return an aiohttp-backed transport: httpcore's pool collapses under concurrency.

    encode/httpx#3215; shared/research/perf-baseline.md measured 2.5-3.1x the RPS at a third of
    the CPU with httpx-aiohttp. The httpx API (and respx in tests) stays the same.
    """

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections,
            limit_per_host=limits.max_connections_per_host,
            keepalive_timeout=limits.keepalive_expiry,
        )
        return aiohttp.ClientSession(connector=connector, auto_decompress=False)

    return AiohttpTransport(client=session)


def _root_cause(exc: BaseException) -> BaseException:
    # httpx-aiohttp maps every aiohttp.ClientConnectionError (refused, reset) to ConnectTimeout;
    # the aiohttp exception it chains says what really happened.
    cause = exc.__cause__
    return cause if isinstance(cause, aiohttp.ClientError | OSError) else exc


def upstream_error(
    exc: httpx.TransportError, model: str, connect_limit: float | None, *, reading: bool
) -> UpstreamError:
    """The most specific `UpstreamError` for an httpx/aiohttp failure (raise it `from exc`).

    `reading` is True once the response has started: a failure then means the body broke off.
    """
    if reading:
        return UpstreamProtocolError(
            f"model {model!r}: the upstream response broke off", model=model
        )
    cause = _root_cause(exc)
    if isinstance(cause, aiohttp.ConnectionTimeoutError) or (
        cause is exc and isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
    ):
        return UpstreamConnectTimeout(
            f"model {model!r}: no connection to the upstream within {connect_limit}s",
            model=model,
            limit=connect_limit,
        )
    return UpstreamUnavailable(f"model {model!r}: the upstream could not be reached", model=model)
