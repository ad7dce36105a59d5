"""Observability: the per-request record, Prometheus metrics, the access log and tracing."""

from .access_log import access_line, log_access
from .metrics import METRICS, Metrics
from .metrics import router as metrics_router
from .middleware import ObservabilityMiddleware
from .record import RequestRecord, current_record, record_of, upstream_headers
from .tracing import TracingMiddleware, configured_tracer

__all__ = [
    "METRICS",
    "Metrics",
    "ObservabilityMiddleware",
    "RequestRecord",
    "TracingMiddleware",
    "access_line",
    "configured_tracer",
    "current_record",
    "log_access",
    "metrics_router",
    "record_of",
    "upstream_headers",
]
