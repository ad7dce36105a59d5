"""The async LocalAI client: one connection pool, typed errors, LocalAI's quirks handled."""

from ._client import EventStream, UpstreamClient, UpstreamReply
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, UNSET, PoolLimits, Timeouts
from ._dialects import (
    COMPLETION_EVENTS,
    MESSAGES_EVENTS,
    OPENAI_EVENTS,
    RESPONSES_EVENTS,
    StreamDialect,
    event_type,
)
from ._errors import (
    RETRYABLE_STATUSES,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamFirstTokenTimeout,
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamTimeout,
    UpstreamTotalTimeout,
    UpstreamUnavailable,
)
from ._normalize import error_type_for, normalize_error
from ._sse import iter_sse_batches

__all__ = [
    "COMPLETION_EVENTS",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUTS",
    "MESSAGES_EVENTS",
    "OPENAI_EVENTS",
    "RESPONSES_EVENTS",
    "RETRYABLE_STATUSES",
    "UNSET",
    "EventStream",
    "PoolLimits",
    "StreamDialect",
    "Timeouts",
    "UpstreamClient",
    "UpstreamConnectTimeout",
    "UpstreamError",
    "UpstreamFirstTokenTimeout",
    "UpstreamIdleTimeout",
    "UpstreamProtocolError",
    "UpstreamReply",
    "UpstreamStatusError",
    "UpstreamStreamError",
    "UpstreamTimeout",
    "UpstreamTotalTimeout",
    "UpstreamUnavailable",
    "error_type_for",
    "event_type",
    "iter_sse_batches",
    "normalize_error",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "clients"
