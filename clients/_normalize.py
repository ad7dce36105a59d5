"""LocalAI's error bodies turned into OpenAI's `{"message", "type", "param", "code"}` shape.

LocalAI (Echo) answers `{"error": {"code": <int status>, "message": "code=400, message=...",
"type": ""}}`, a bare JSON string (rerank's 422), or nothing at all (`LOCALAI_OPAQUE_ERRORS`);
see research/localai.md §3 "Non-streaming error JSON".
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_ECHO_PREFIX = re.compile(r"^code=\d+, message=(.*?)(?:, internal=.*)?$", re.DOTALL)

# Upstream messages that blame the request, whatever status came with them (LocalAI answers
# 500 with the backend's text, wrapped as "rpc error: code = ... desc = ..."), by the OpenAI
# code the client gets. Sources: llama.cpp server ("request (N tokens) exceeds the available
# context size (M tokens)", type exceed_context_size_error, ggml-org/llama.cpp#15780; "input is
# too large to process" before it; "Failed to parse grammar"), llama-cpp-python ("Requested
# tokens (N) exceed context window of M"), OpenAI/vLLM ("maximum context length"), and the
# gRPC status LocalAI's backends use for bad input (InvalidArgument).
_REQUEST_FAULTS = (
    (
        "context_length_exceeded",
        re.compile(
            r"exceeds? the available context size|exceed_context_size|exceed context window"
            r"|maximum context length|input is too large to process|context_length_exceeded",
            re.IGNORECASE,
        ),
    ),
    ("invalid_grammar", re.compile(r"pars(?:e|ing) (?:the )?grammar|invalid grammar", re.I)),
    ("invalid_value", re.compile(r"rpc error: code = InvalidArgument")),
)

TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type_for(status: int) -> str:
    """Return the OpenAI error type that matches an HTTP status."""
    return TYPE_BY_STATUS.get(status, "invalid_request_error" if status < 500 else "api_error")


def _clean_message(message: str) -> str:
    match = _ECHO_PREFIX.match(message)
    return match.group(1) if match else message


def normalize_error(status: int, body: bytes) -> dict[str, Any]:
    """Return the OpenAI-shaped error object for an upstream error body of any LocalAI form."""
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    raw = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(raw, dict):
        message = raw.get("message")
        code = raw.get("code")
        kind = raw.get("type")
        param = raw.get("param")
    else:
        message, code, kind, param = raw, None, None, None
    text = _clean_message(str(message)) if message else f"upstream answered {status}"
    fault = request_fault(text, kind)
    if fault is not None:
        return {"message": text, "type": "invalid_request_error", "param": None, "code": fault}
    return {
        "message": text,
        "type": kind if isinstance(kind, str) and kind else error_type_for(status),
        "param": param if isinstance(param, str) else None,
        "code": code if isinstance(code, str) and code else None,
    }


def request_fault(message: str, kind: object = None) -> str | None:
    """The OpenAI code for an upstream error caused by the request itself, or None."""
    for code, pattern in _REQUEST_FAULTS:
        if pattern.search(message) or (isinstance(kind, str) and pattern.search(kind)):
            return code
    return None


def normalize_stream_error(payload: bytes) -> dict[str, Any]:
    """Return the error object of an SSE `{"error": ...}` event in OpenAI's shape."""
    error = normalize_error(500, payload)
    if error["type"] == "api_error":
        error["type"] = "server_error"
    return error
