"""The exceptions the LocalAI client raises, one tree translated once from httpx's.

    UpstreamError
    ├── UpstreamUnavailable          no connection, or closed before a reply
    ├── UpstreamTimeout              a limit of `Timeouts` ran out
    │   ├── UpstreamConnectTimeout
    │   ├── UpstreamFirstTokenTimeout
    │   ├── UpstreamIdleTimeout
    │   └── UpstreamTotalTimeout
    ├── UpstreamStatusError          the upstream answered with a non-2xx status
    ├── UpstreamStreamError          a 200 stream carried `data: {"error": ...}`
    ├── UpstreamProtocolError        the reply broke off or was unreadable
    └── UpstreamSchemaViolation      a structured answer did not validate, twice

Messages name the model and the limit, never an upstream URL or key.
"""

from __future__ import annotations

from typing import Any


class UpstreamError(Exception):
    """Base class: a call to LocalAI did not produce a usable answer."""

    #: True when the request may not have been processed, so another replica may try it.
    retryable: bool = True
    #: True when the upstream blamed the request itself (context overflow, invalid grammar,
    #: invalid argument): answered as a 400, never retried, never held against the replica.
    request_fault: bool = False

    def __init__(self, message: str, *, model: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.model = model


class UpstreamUnavailable(UpstreamError):
    """Raised when no connection to the upstream could be made or it closed before replying."""


class UpstreamTimeout(UpstreamError):
    """Raised when one of the limits in `Timeouts` ran out."""

    def __init__(self, message: str, *, model: str = "", limit: float | None = None) -> None:
        super().__init__(message, model=model)
        self.limit = limit


class UpstreamConnectTimeout(UpstreamTimeout):
    """Raised when the TCP connection was not open within `Timeouts.connect`."""


class UpstreamFirstTokenTimeout(UpstreamTimeout):
    """Raised when the response (or a stream's first event) did not start within `first_token`."""


class UpstreamIdleTimeout(UpstreamTimeout):
    """Raised when a stream or body went silent for longer than `Timeouts.idle`."""

    retryable = False


class UpstreamTotalTimeout(UpstreamTimeout):
    """Raised when the whole call took longer than `Timeouts.total`."""

    retryable = False


class UpstreamStatusError(UpstreamError):
    """Raised when the upstream answered with a non-2xx status; `error` is its normalised body.

    `status` tells an unknown model (404) from an overloaded or failing upstream (429, 5xx),
    and is 400 for a request fault LocalAI reported as a 5xx (`upstream_status` keeps what it
    sent); `code` is the OpenAI error code when the upstream gave one as a string (the
    gateway's `model_not_found`, `context_length_exceeded`), else None.
    """

    def __init__(
        self,
        status: int,
        error: dict[str, Any],
        *,
        model: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(str(error.get("message") or f"upstream status {status}"), model=model)
        self.request_fault = error.get("code") in REQUEST_FAULT_CODES
        self.upstream_status = status
        self.status = 400 if self.request_fault else status
        self.error = error
        self.retry_after = retry_after
        self.retryable = self.status in RETRYABLE_STATUSES

    @property
    def code(self) -> str | None:
        """The OpenAI error code, e.g. `model_not_found`, or None."""
        code = self.error.get("code")
        return code if isinstance(code, str) else None


class UpstreamStreamError(UpstreamError):
    """Raised when a 200 stream carried an error event; `error` is the event's error object."""

    def __init__(self, error: dict[str, Any], *, model: str = "") -> None:
        super().__init__(str(error.get("message") or "upstream stream error"), model=model)
        self.error = error
        self.request_fault = error.get("code") in REQUEST_FAULT_CODES
        self.retryable = not self.request_fault


class UpstreamProtocolError(UpstreamError):
    """Raised when the reply broke off or was not valid (cut stream, malformed JSON)."""


class UpstreamSchemaViolation(UpstreamError):
    """Raised when a grammar-constrained answer failed its schema on the first try and the retry.

    `text` is the last answer and `errors` its validation errors, each naming where it failed.
    """

    retryable = False

    def __init__(self, message: str, *, model: str = "", text: str, errors: list[str]) -> None:
        super().__init__(message, model=model)
        self.text = text
        self.errors = errors


RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
REQUEST_FAULT_CODES = frozenset({"context_length_exceeded", "invalid_grammar", "invalid_value"})
"""The OpenAI error codes `normalize_error` gives to upstream errors caused by the request."""
