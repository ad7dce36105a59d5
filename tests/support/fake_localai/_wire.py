"""LocalAI's bytes on the wire: Go-style JSON, Echo error bodies and SSE framing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_json(value: Any) -> bytes:
    """Encode like Go's `json.Marshal`: compact, raw UTF-8, HTML characters escaped,
    whole floats without a fraction (`1`, not `1.0`)."""
    text = json.dumps(_go_numbers(value), separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value


def echo_json(value: Any) -> bytes:
    """Encode like Echo's `c.JSON`: Go JSON plus the encoder's trailing newline."""
    return go_json(value) + b"\n"


def sse_event(value: Any) -> bytes:
    """One LocalAI SSE event: `data: <json>` and a blank line; no `event:` or `id:` lines."""
    return b"data: " + go_json(value) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def error_body(status: int, message: str, kind: str = "") -> dict[str, Any]:
    """LocalAI's error envelope: the int status as `code`, `type` present even when empty."""
    return {"error": {"code": status, "message": message, "type": kind}}


def echo_message(status: int, message: str) -> str:
    """The text of an `echo.NewHTTPError`, which LocalAI puts in `error.message`."""
    return f"code={status}, message={message}"


def stream_error(message: str) -> dict[str, Any]:
    """The error event LocalAI (v4.1+) writes into a 200 stream after headers were sent."""
    return {"error": {"message": message, "type": "server_error", "code": "server_error"}}


def new_id() -> str:
    """A bare uuid, as LocalAI uses for `id` (no `chatcmpl-` prefix)."""
    return str(uuid.uuid4())


def now() -> int:
    """Unix seconds for `created`."""
    return int(time.time())
