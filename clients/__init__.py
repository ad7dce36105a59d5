"""LocalAI clients: the typed `LocalAIClient` (async) and `SyncLocalAIClient` for services,
`LegacyPipelineAdapter` for old call sites, and the gateway's bytes-level `UpstreamClient`;
one error tree and one set of deadlines for all of them."""

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
    UpstreamSchemaViolation,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamTimeout,
    UpstreamTotalTimeout,
    UpstreamUnavailable,
)
from ._legacy import LegacyPipelineAdapter
from ._localai import LocalAIClient
from ._media import sniff_image
from ._normalize import error_type_for, normalize_error
from ._options import DEFAULT_MAX_READ_BYTES, ClientOptions
from ._replies import upstream_json
from ._sse import EventTooLarge, iter_sse_batches
from ._streams import AsyncStream, StreamOpener, SyncStream
from ._sync import SyncLocalAIClient
from ._types import (
    ChatChunk,
    ChatResponse,
    RerankResult,
    ToolCall,
    ToolCallDelta,
    Transcription,
    Usage,
)

__all__ = [
    "COMPLETION_EVENTS",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_READ_BYTES",
    "DEFAULT_TIMEOUTS",
    "MESSAGES_EVENTS",
    "OPENAI_EVENTS",
    "RESPONSES_EVENTS",
    "RETRYABLE_STATUSES",
    "UNSET",
    "AsyncStream",
    "ChatChunk",
    "ChatResponse",
    "ClientOptions",
    "EventStream",
    "EventTooLarge",
    "LegacyPipelineAdapter",
    "LocalAIClient",
    "PoolLimits",
    "RerankResult",
    "StreamDialect",
    "StreamOpener",
    "SyncLocalAIClient",
    "SyncStream",
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "Transcription",
    "UpstreamClient",
    "UpstreamConnectTimeout",
    "UpstreamError",
    "UpstreamFirstTokenTimeout",
    "UpstreamIdleTimeout",
    "UpstreamProtocolError",
    "UpstreamReply",
    "UpstreamSchemaViolation",
    "UpstreamStatusError",
    "UpstreamStreamError",
    "UpstreamTimeout",
    "UpstreamTotalTimeout",
    "UpstreamUnavailable",
    "Usage",
    "error_type_for",
    "event_type",
    "iter_sse_batches",
    "normalize_error",
    "sniff_image",
    "upstream_json",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "clients"
