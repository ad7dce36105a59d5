"""Multipart requests at the edge: bounded form parsing, one file or text field at a time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from ..errors import InvalidRequest
from ..upstream.admission import Admission

_MAX_FILES = 4
_MAX_FIELDS = 32
_FORM_OVERHEAD = 64 * 1024  # text fields and part headers on top of the files


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file, read into memory after its size was checked."""

    filename: str
    content: bytes
    content_type: str


@contextlib.asynccontextmanager
async def read_form(
    request: Request, *, max_bytes: int, slots: Admission
) -> AsyncIterator[FormData]:
    """Parse a multipart body no larger than `max_bytes` (plus field overhead), else 400,
    holding one of `slots` (uploads spool to /tmp) until the form is done with.

    Use as `async with read_form(...) as form:`, which deletes the spooled files afterwards.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("This endpoint takes a multipart/form-data body.")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + _FORM_OVERHEAD:
        raise InvalidRequest(
            f"The request body is larger than {max_bytes} bytes.", code="file_too_large"
        )
    await slots.acquire()
    try:
        async with request.form(max_files=_MAX_FILES, max_fields=_MAX_FIELDS) as form:
            yield form
    finally:
        slots.release()


def text_field(form: FormData, name: str) -> str | None:
    """Return a text field of the form, None when absent; a file there is a 400."""
    value = form.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequest(f"{name!r} must be a text field, not a file.", param=name)


def required_text(form: FormData, name: str) -> str:
    """Return a non-empty text field, or raise a 400 naming it."""
    value = text_field(form, name)
    if not value:
        raise InvalidRequest(f"Missing required parameter: {name!r}.", param=name)
    return value


async def file_field(form: FormData, name: str, *, max_bytes: int) -> Upload | None:
    """Return the file uploaded as `name` (None when absent), refusing files over `max_bytes`."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, UploadFile):
        raise InvalidRequest(f"{name!r} must be a file upload.", param=name)
    content = b"" if (value.size or 0) > max_bytes else await value.read(max_bytes + 1)
    if (value.size or 0) > max_bytes or len(content) > max_bytes:
        raise InvalidRequest(
            f"{name!r} is larger than {max_bytes} bytes.", param=name, code="file_too_large"
        )
    if not content:
        raise InvalidRequest(f"{name!r} is empty.", param=name)
    return Upload(value.filename or name, content, value.content_type or "")
