"""The access log: one JSON line per request on logger `localai_gateway.access`.

Lines carry ids, names, numbers and timings only; request and response bodies (prompts,
outputs) are never logged.
"""

from __future__ import annotations

import logging

import orjson

from .record import RequestRecord

log = logging.getLogger("localai_gateway.access")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def access_line(record: RequestRecord, finished: float) -> str:
    """Return the JSON access line of a finished request."""
    first_byte = record.first_byte
    return orjson.dumps(
        {
            "request_id": record.request_id,
            "key": record.key_name,
            "method": record.method,
            "path": record.path,
            "endpoint": record.endpoint,
            "model": record.model,
            "upstream": record.upstream,
            "status": record.status,
            "latency_ms": _ms(finished - record.started),
            "ttft_ms": _ms(first_byte - record.started)
            if record.streaming and first_byte
            else None,
            "tokens_in": record.tokens_in,
            "tokens_out": record.tokens_out,
            "retries": record.retries,
        }
    ).decode()


def log_access(record: RequestRecord, finished: float) -> None:
    """Write the access line if the access logger is enabled at INFO."""
    if log.isEnabledFor(logging.INFO):
        log.info(access_line(record, finished))
