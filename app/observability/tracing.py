"""Optional OpenTelemetry tracing: one server span per HTTP request.

On only with `LOCALAI_GATEWAY_OTEL=on` and the `opentelemetry-api` package importable (the
exporter is whatever SDK the deployment configures); otherwise nothing is installed.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings
from .record import RequestRecord, loggable_path, record_of

log = logging.getLogger("localai_gateway.tracing")


def configured_tracer(settings: Settings) -> Any | None:
    """Return the gateway's tracer if tracing is on and OpenTelemetry is importable, else None."""
    if not settings.otel:
        return None
    if importlib.util.find_spec("opentelemetry") is None:
        log.warning("LOCALAI_GATEWAY_OTEL=on but opentelemetry-api is not installed: no tracing")
        return None
    from opentelemetry import trace

    return trace.get_tracer("localai_gateway")


class TracingMiddleware:
    """Wrap each HTTP request in a server span carrying the request record's facts."""

    def __init__(self, app: ASGIApp, tracer: Any) -> None:
        from opentelemetry.trace import SpanKind

        self.app = app
        self.tracer = tracer
        self.kind = SpanKind.SERVER

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = f"{scope['method']} {loggable_path(scope['path'])}"
        with self.tracer.start_as_current_span(name, kind=self.kind) as span:
            try:
                await self.app(scope, receive, send)
            finally:
                record = record_of(scope)
                if record is not None:
                    span.set_attributes(span_attributes(record))


def span_attributes(record: RequestRecord) -> dict[str, Any]:
    """The span attributes of a request record (no None values; OpenTelemetry rejects them)."""
    attributes = {
        "http.request.method": record.method,
        "url.path": record.path,
        "http.response.status_code": record.status,
        "localai_gateway.request_id": record.request_id,
        "localai_gateway.key": record.key_name,
        "gen_ai.request.model": record.model,
        "localai_gateway.upstream": record.upstream,
        "gen_ai.usage.input_tokens": record.tokens_in,
        "gen_ai.usage.output_tokens": record.tokens_out,
    }
    return {name: value for name, value in attributes.items() if value is not None}
