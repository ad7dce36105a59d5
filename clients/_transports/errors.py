"""The one place transport failures (httpx exception types, any wire) become `UpstreamError`s."""

from __future__ import annotations

import httpx

from .._errors import (
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)
from .native import ResponseTooLarge


def upstream_error(
    exc: httpx.TransportError, model: str, connect_limit: float | None, *, reading: bool
) -> UpstreamError:
    """The most specific `UpstreamError` for a transport failure (raise it `from exc`).

    `reading` is True once the response has started: a failure then means the body broke off.
    """
    if reading or isinstance(exc, ResponseTooLarge):
        what = str(exc) if isinstance(exc, ResponseTooLarge) else "the upstream response broke off"
        return UpstreamProtocolError(f"model {model!r}: {what}", model=model)
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return UpstreamConnectTimeout(
            f"model {model!r}: no connection to the upstream within {connect_limit}s",
            model=model,
            limit=connect_limit,
        )
    return UpstreamUnavailable(f"model {model!r}: the upstream could not be reached", model=model)
