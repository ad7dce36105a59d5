"""The outermost middleware: request record, X-Request-ID, metrics and the access line."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access_log import log_access
from .metrics import METRICS, Metrics
from .record import REQUEST_ID_HEADER, RequestRecord, new_record
from .window import RECENT, RecentTraffic

_EVENT_STREAM = b"text/event-stream"
_UNMATCHED = "unmatched"


def _is_event_stream(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return value.startswith(_EVENT_STREAM)
    return False


class ObservabilityMiddleware:
    """Create the request record, answer with its X-Request-ID, then count and log the request
    (Prometheus metrics, the status page's last minute, the access log)."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics = METRICS, recent: RecentTraffic = RECENT
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.recent = recent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = new_record(scope)
        request_id = record.request_id.encode()
        streams = None  # the in-flight streams gauge child, while a stream is being sent

        async def observed_send(message: Message) -> None:
            nonlocal streams
            if message["type"] == "http.response.start":
                record.status = message["status"]
                headers = list(message.get("headers", ()))
                record.streaming = _is_event_stream(headers)
                message["headers"] = [*headers, (REQUEST_ID_HEADER, request_id)]
                if record.streaming:
                    streams = self.metrics.child(self.metrics.inflight_streams, record.model or "")
                    streams.inc()
            elif record.first_byte is None and message.get("body"):
                record.first_byte = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except BaseException:
            record.status = record.status or 500
            raise
        finally:
            if streams is not None:
                streams.dec()
            self._finish(scope, record)

    def _finish(self, scope: Scope, record: RequestRecord) -> None:
        finished = time.perf_counter()
        record.endpoint = getattr(scope.get("route"), "path", _UNMATCHED)
        self.metrics.observe(record, finished)
        if record.model:
            self.recent.record(record.model, record.status, finished - record.started, finished)
        log_access(record, finished)
