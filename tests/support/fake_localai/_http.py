"""The fake's request and reply values, and the refusal raised by handlers."""

from __future__ import annotations

import email.policy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes
from typing import Any
from urllib.parse import parse_qsl

from ._wire import echo_json, echo_message, error_body

Headers = Sequence[tuple[str, str]]


class Refusal(Exception):
    """Raised by a handler to answer with a LocalAI error body instead of a result."""

    def __init__(self, status: int, message: str, kind: str = "", headers: Headers = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, list(headers)

    @classmethod
    def echo(cls, status: int, message: str) -> Refusal:
        """A refusal raised as `echo.NewHTTPError`, whose text LocalAI prefixes with `code=N`."""
        return cls(status, echo_message(status, message))

    def reply(self) -> Reply:
        return json_reply(
            self.status, error_body(self.status, self.message, self.kind), self.headers
        )


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart form."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Form:
    """A parsed multipart form: text fields and file parts by name."""

    fields: dict[str, str]
    files: dict[str, Upload]

    def summary(self) -> dict[str, Any]:
        """The form as recorded for tests: text values, and file name, type and size."""
        files = {
            name: {"filename": f.filename, "content_type": f.content_type, "size": len(f.data)}
            for name, f in self.files.items()
        }
        return {**self.fields, **files}


@dataclass(frozen=True)
class Request:
    """One HTTP request as the fake sees it; `route` is the path LocalAI would route."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json_object(self) -> dict[str, Any]:
        """The JSON body as an object, or the 400 LocalAI returns when binding fails."""
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise Refusal.echo(400, f"failed parsing request body: {exc}") from exc
        if not isinstance(value, dict):
            raise Refusal.echo(400, "failed parsing request body: body is not a JSON object")
        return value

    def form(self) -> Form:
        """The multipart body, or the 400 LocalAI returns when it is not multipart."""
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise Refusal.echo(400, "request Content-Type isn't multipart/form-data")
        return parse_multipart(content_type, self.body)

    def recorded(self) -> dict[str, Any]:
        """The request as GET /__requests shows it."""
        parsed_json = parsed_form = text = None
        if self.headers.get("content-type", "").startswith("multipart/form-data"):
            parsed_form = self.form().summary()
        elif self.body:
            try:
                parsed_json = json.loads(self.body)
            except ValueError:
                text = self.body.decode(errors="replace")
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "json": parsed_json,
            "form": parsed_form,
            "body": text,
        }


def parse_multipart(content_type: str, body: bytes) -> Form:
    """Split a multipart/form-data body with the stdlib MIME parser."""
    message = message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP
    )
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[str(name)] = payload.decode()
        else:
            files[str(name)] = Upload(filename, part.get_content_type(), payload)
    return Form(fields, files)


@dataclass
class Reply:
    """A response as a list of body events; a non-stream body is a single event."""

    status: int
    headers: list[tuple[str, str]]
    events: list[bytes]
    stream: bool = False


def json_reply(status: int, value: Any, headers: Headers = ()) -> Reply:
    """A JSON response the way Echo's `c.JSON` writes it."""
    return Reply(status, [("content-type", "application/json"), *headers], [echo_json(value)])


def bytes_reply(status: int, content_type: str, body: bytes, headers: Headers = ()) -> Reply:
    """A plain body with the given media type."""
    return Reply(status, [("content-type", content_type), *headers], [body] if body else [])


def parse_query(raw: bytes) -> dict[str, str]:
    """Query parameters, the last value winning."""
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
