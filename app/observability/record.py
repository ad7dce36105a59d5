"""The per-request record: what one request did, filled along the way and read once at the end.

The outermost middleware puts a `RequestRecord` into `scope["state"]`; auth names the key, the
routes and the relays fill model, upstream replica, token counts and retries; metrics, the access
log and the rate limiter read it when the response is done.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Scope

if TYPE_CHECKING:
    from ..access.auth import ApiKey

STATE_KEY = "localai_gateway.record"
REQUEST_ID_HEADER = b"x-request-id"
CORRELATION_HEADER = "x-correlation-id"

# A client's X-Request-ID is kept when it is a short token; anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@=+/-]{1,128}")


@dataclass(slots=True)
class RequestRecord:
    """One request's facts; `None` means "not known" (e.g. no usage in the reply)."""

    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    endpoint: str = ""
    key: ApiKey | None = None
    model: str | None = None
    upstream: str | None = None
    status: int = 0
    streaming: bool = False
    first_byte: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    retries: int = 0

    @property
    def key_name(self) -> str | None:
        """The name of the API key that made the request, if auth is on."""
        return self.key.name if self.key is not None else None

    @property
    def tokens(self) -> int:
        """Tokens in and out, counting unknown as zero."""
        return (self.tokens_in or 0) + (self.tokens_out or 0)


def request_id_from(scope: Scope) -> str:
    """Return the client's X-Request-ID if it is a sane token, else a new random id."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            given: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


IMAGE_FILES = "/v1/images/files/"


def loggable_path(path: str) -> str:
    """The path as logs and traces may show it: a signed image id is a bearer credential."""
    return IMAGE_FILES + "{image_id}" if path.startswith(IMAGE_FILES) else path


def new_record(scope: Scope) -> RequestRecord:
    """Create the record of an HTTP request and store it in the scope's state."""
    record = RequestRecord(request_id_from(scope), scope["method"], loggable_path(scope["path"]))
    scope.setdefault("state", {})[STATE_KEY] = record
    return record


def record_of(scope: Scope) -> RequestRecord | None:
    """Return the record stored in `scope`, or None outside the observability middleware."""
    state = scope.get("state")
    return state.get(STATE_KEY) if state is not None else None


def current_record(request: Request) -> RequestRecord:
    """Return the record of `request`; raise RuntimeError if the middleware is not installed."""
    record = record_of(request.scope)
    if record is None:
        raise RuntimeError("No request record: ObservabilityMiddleware is not installed.")
    return record


def upstream_headers(record: RequestRecord) -> dict[str, str]:
    """Headers for the upstream call: the request id as `X-Correlation-ID` (LocalAI echoes it)."""
    return {CORRELATION_HEADER: record.request_id}
