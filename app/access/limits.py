"""Request size limits: the body-size middleware (413) and the chat body checks (400).

The body limit is checked twice: against `Content-Length` before the app runs, and while the
body streams in (chunked uploads, or a client that sends more than it announced).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InvalidRequest, PayloadTooLarge, gateway_error_response
from ..settings import Settings


def too_large(limit: int) -> PayloadTooLarge:
    """The 413 error for a body over `limit` bytes."""
    return PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")


def content_length(scope: Scope) -> int | None:
    """The announced body size, or None when absent or not a number (the server rejects those)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    """Answer 413 to HTTP requests whose body is larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = content_length(scope)
        if length is not None and length > self.max_bytes:
            await gateway_error_response(too_large(self.max_bytes))(scope, receive, send)
            return
        limit, received = self.max_bytes, 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read: the GatewayError handler answers 413.
                    raise too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


def check_chat_body(body: dict[str, Any], settings: Settings) -> None:
    """Raise `InvalidRequest` (400) for too many messages or an inline image over the limit."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    if len(messages) > settings.max_messages:
        raise InvalidRequest(
            f"Too many messages: {len(messages)} (the limit is {settings.max_messages}).",
            param="messages",
            code="too_many_messages",
        )
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            _check_images(content, index, settings.max_image_bytes)


def data_uri_bytes(url: str) -> int:
    """The decoded size of a base64 `data:` URI (estimated from its length), else 0."""
    if not url.startswith("data:"):
        return 0
    comma = url.find(",")
    payload = len(url) - comma - 1 if comma >= 0 else 0
    return payload * 3 // 4


def _check_images(parts: list[Any], index: int, limit: int) -> None:
    for number, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str) and data_uri_bytes(url) > limit:
            raise InvalidRequest(
                f"The image in messages[{index}].content[{number}] exceeds {limit} bytes.",
                param=f"messages[{index}].content[{number}].image_url",
                code="image_too_large",
            )
