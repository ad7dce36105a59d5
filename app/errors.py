"""Gateway errors and their translation into OpenAI-shaped JSON responses, in one place.

Every error body is `{"error": {"message", "type", "param", "code"}}`. Routes raise; the
handlers in `ERROR_HANDLERS` build the responses (looked up along the exception's MRO, so one
handler per base class covers its subclasses), on the app and on the hot routes' lean path.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clients import (
    UpstreamError,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamTimeout,
    error_type_for,
)

from .pipeline import RequestOptionError

log = logging.getLogger("localai_gateway.errors")

# What `scrub` removes from upstream messages: URLs, bare addresses (IPv4, [IPv6], host:port,
# cluster-internal host names), then credentials (bearer/basic tokens, key=value secrets, sk-...).
_ADDRESSES = re.compile(
    r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+"
    r"|\[[0-9a-f:.%]+\](?::\d+)?"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
    r"|\b[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*:\d{2,5}\b"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:svc|local|internal|lan|localdomain)\b"
    # dotted host names without a port (gpu-3.corp.example.com; also catches file names)
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*[a-z]\b"
    # a bare host name where a resolver or dialler names one (lookup localai-0 on ...)
    r"|(?<=\blookup )[^\s:]+|(?<=\bhost )[a-z0-9][a-z0-9.-]*"
    # absolute file paths (/models/qwen3.gguf, /root/.cache/...)
    r"|(?<![\w/.])/(?:[\w.@+-]+/)+[\w.@+-]*",
    re.IGNORECASE,
)
_CREDENTIALS = re.compile(
    r"(?i)((?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[=:]\s*[\"']?"
    r"(?:(?:bearer|basic)\s+)?|(?:bearer|basic)\s+)[^\s\"',;]+"
    r"|\bsk-[a-z0-9_-]{6,}"
)


class GatewayError(Exception):
    """An error the gateway answers itself, with an HTTP status and an OpenAI error object."""

    status = 400
    type = "invalid_request_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.code
        self.headers = headers


class InvalidRequest(GatewayError):
    """Raised for a malformed or incomplete request body (400)."""


class ModelNotFound(GatewayError):
    """Raised when the requested model id is not in the registry (404)."""

    status = 404
    code = "model_not_found"


class CapabilityNotSupported(GatewayError):
    """Raised when the model exists but lacks the capability the endpoint needs (400)."""

    code = "model_capability_not_supported"


class OutputValidationFailed(GatewayError):
    """Raised when a complete (non-streamed) answer breaks a model's output validators (502)."""

    status = 502
    type = "api_error"
    code = "output_validation_failed"


class AuthenticationFailed(GatewayError):
    """Raised when a request carries no API key or an unknown one (401)."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """Raised when the API key may not use the requested model (403)."""

    status = 403
    type = "permission_error"
    code = "model_not_allowed"


class RateLimited(GatewayError):
    """Raised when an API key is over its requests or tokens per minute (429, `Retry-After`)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class PayloadTooLarge(GatewayError):
    """Raised when the request body exceeds the configured size (413)."""

    status = 413
    code = "request_too_large"


class UpstreamSchemaViolation(GatewayError):
    """Raised when a non-streamed answer breaks the requested JSON schema (502)."""

    status = 502
    type = "upstream_schema_violation"
    code = "upstream_schema_violation"


class BackendUnavailable(GatewayError):
    """Raised when the in-process model cannot serve the request (not loadable) (503)."""

    status = 503
    type = "api_error"
    code = "model_unavailable"


class GatewayFailure(GatewayError):
    """The gateway itself failed (a bug); the message says so without details (500)."""

    status = 500
    type = "server_error"


class NoHealthyUpstream(GatewayError):
    """Raised when every replica of a model is down or its breaker is open (503)."""

    status = 503
    type = "api_error"
    code = "upstream_unavailable"


class Overloaded(GatewayError):
    """Raised when a concurrency limit and its wait queue are full, or the wait ran out (429)."""

    status = 429
    type = "rate_limit_error"
    code = "overloaded"


MAX_RETRY_AFTER = 3600  # seconds; a longer hint is no use to a client


def retry_after(seconds: object, cap: float = MAX_RETRY_AFTER) -> dict[str, str]:
    """A `Retry-After` header for a wait of `seconds`: whole seconds, from 1 up to `cap`.

    Whatever `seconds` is (0, negative, NaN, infinite, huge, not a number), the header is an
    integer in that range: a client must never read "retry now" or fail to parse it.
    """
    try:
        wait = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        wait = 1.0
    if math.isnan(wait):
        wait = 1.0
    return {"retry-after": str(int(min(max(1.0, math.ceil(min(wait, cap))), cap)))}


class RouteNotFound(GatewayError):
    """Raised for an unknown path (404)."""

    status = 404
    code = "not_found"


class ErrorFields(NamedTuple):
    """The four members of an OpenAI error object."""

    message: str
    type: str
    param: str | None = None
    code: object = None


def error_body(fields: ErrorFields) -> bytes:
    """Serialise one OpenAI error object: `{"error": {"message", "type", "param", "code"}}`.

    The one place an error body is made, for responses and for in-stream error events alike.
    """
    return orjson.dumps({"error": fields._asdict()})


ANTHROPIC_PATHS = "/v1/messages"  # the prefix of the routes whose clients speak Anthropic
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


def anthropic_error(status: int, fields: ErrorFields) -> dict[str, object]:
    """Anthropic's error object for a failure answered with `status`:
    `{"type": "error", "error": {"type", "message"}}`, its type chosen by the status."""
    kind = _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": fields.message}}


class ErrorResponse(Response):
    """An error response in the shape of the API its path belongs to: Anthropic's on
    `/v1/messages*`, OpenAI's everywhere else. Handlers and middleware all answer with one, so
    the shape is chosen here, once, whoever raised."""

    media_type = "application/json"

    def __init__(
        self, status: int, fields: ErrorFields, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error_body(fields), status, headers=headers)
        self.fields = fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path", "").startswith(ANTHROPIC_PATHS):
            self.body = orjson.dumps(anthropic_error(self.status_code, self.fields))
            self.headers["content-length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


def error_response(
    status: int, fields: ErrorFields, headers: dict[str, str] | None = None
) -> Response:
    """Return an error response: OpenAI-shaped, or Anthropic's on its routes."""
    return ErrorResponse(status, fields, headers)


def scrub(message: str) -> str:
    """Remove URLs and credentials from an upstream message before it reaches a client."""
    return _CREDENTIALS.sub(_redact, _ADDRESSES.sub("[upstream]", message))


def _redact(match: re.Match[str]) -> str:
    return (match.group(1) or "") + "[redacted]"


def error_fields(exc: GatewayError | UpstreamError) -> ErrorFields:
    """The client-facing error object of a gateway or upstream failure (messages scrubbed)."""
    if isinstance(exc, GatewayError):
        return ErrorFields(exc.message, exc.type, exc.param, exc.code)
    if isinstance(exc, UpstreamStatusError | UpstreamStreamError):
        error = exc.error
        members = (error["message"], error["type"], error["param"], error["code"])
        return ErrorFields(*(scrub(v) if isinstance(v, str) else v for v in members))
    if isinstance(exc, UpstreamTimeout):
        return ErrorFields(exc.message, "api_error", None, "timeout")
    code = "upstream_unavailable" if upstream_status(exc) == 502 else "upstream_error"
    return ErrorFields(exc.message, "api_error", None, code)


def upstream_status(exc: UpstreamError) -> int:
    """Return the HTTP status that answers an upstream failure."""
    if isinstance(exc, UpstreamStatusError):
        return exc.status
    if exc.request_fault:
        return 400
    if isinstance(exc, UpstreamTimeout):
        return 504
    return 502


def error_status(exc: GatewayError | UpstreamError) -> int:
    """The HTTP status that answers a gateway or upstream failure."""
    return exc.status if isinstance(exc, GatewayError) else upstream_status(exc)


def gateway_error_response(exc: GatewayError) -> Response:
    """Return the response for a `GatewayError` (also used by middleware, outside the handlers)."""
    return error_response(exc.status, error_fields(exc), exc.headers)


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return gateway_error_response(exc)


async def _upstream_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UpstreamError)
    log.warning(
        "upstream error for model %r: %s (%s)", exc.model, scrub(exc.message), type(exc).__name__
    )
    headers = None
    if isinstance(exc, UpstreamStatusError) and exc.retry_after is not None:
        headers = retry_after(exc.retry_after)
    return error_response(upstream_status(exc), error_fields(exc), headers)


async def _option_error(request: Request, exc: Exception) -> Response:
    return error_response(400, ErrorFields(str(exc), "invalid_request_error"))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    message = f"{param}: {first.get('msg', 'invalid value')}" if param else "invalid request"
    return error_response(400, ErrorFields(message, "invalid_request_error", param))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    fields = ErrorFields(str(exc.detail), error_type_for(exc.status_code), None, code)
    return error_response(exc.status_code, fields, dict(exc.headers) if exc.headers else None)


async def _client_left(request: Request, exc: Exception) -> Response:
    # The client went away while sending its body: nobody will read an answer.
    log.debug("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    fields = ErrorFields("The gateway failed to handle this request.", "server_error")
    return error_response(500, fields)


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

# One handler per error base class; `handler_for` and Starlette both look along the MRO.
ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    GatewayError: _gateway_error,
    UpstreamError: _upstream_error,
    RequestOptionError: _option_error,
    RequestValidationError: _validation_error,
    HTTPException: _http_error,
    ClientDisconnect: _client_left,
    Exception: _unexpected_error,
}


def handler_for(exc: Exception) -> ErrorHandler:
    """The handler of the nearest base class of `exc` (`Exception`'s at the latest)."""
    return next(ERROR_HANDLERS[kind] for kind in type(exc).__mro__ if kind in ERROR_HANDLERS)


def install_error_handlers(app: FastAPI) -> None:
    """Register one handler per error base class on the app."""
    for kind, handler in ERROR_HANDLERS.items():
        app.add_exception_handler(kind, handler)
