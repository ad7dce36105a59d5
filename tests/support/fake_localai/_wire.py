"""LocalAI's bytes on the wire: Echo JSON and error bodies (Go-style JSON and SSE framing are
`tests.support.chunks`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.support.chunks import go_json


def echo_json(value: Any) -> bytes:
    """Encode like Echo's `c.JSON`: Go JSON plus the encoder's trailing newline."""
    return go_json(value) + b"\n"


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
