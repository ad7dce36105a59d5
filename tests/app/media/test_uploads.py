"""Multipart forms at the edge: bounded parsing, text fields, size-checked files."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request

from app.errors import InvalidRequest, Overloaded
from app.media.uploads import file_field, read_form, required_text, text_field
from app.upstream.admission import Admission

SLOTS = Admission("uploads", 4, 0, 1)


def request_for(
    data: dict[str, str] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Request:
    """A Starlette request carrying the multipart body httpx would send."""
    built = httpx.Request("POST", "http://gw/v1/x", data=data, files=files)
    body = built.read()
    raw = {**dict(built.headers), **(headers or {})}
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/x",
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw.items()],
    }
    return Request(scope, receive)


async def test_text_and_file_fields_are_read() -> None:
    request = request_for({"model": "m", "prompt": "p"}, {"file": ("a.wav", b"RIFF", "audio/wav")})
    async with read_form(request, max_bytes=100, slots=SLOTS) as form:
        assert required_text(form, "model") == "m"
        assert text_field(form, "absent") is None
        upload = await file_field(form, "file", max_bytes=100)
    assert upload is not None
    assert (upload.filename, upload.content, upload.content_type) == ("a.wav", b"RIFF", "audio/wav")


async def test_a_body_that_is_not_multipart_is_refused() -> None:
    request = request_for(headers={"content-type": "application/json"})
    with pytest.raises(InvalidRequest, match="multipart/form-data"):
        async with read_form(request, max_bytes=100, slots=SLOTS):
            pass


async def test_an_announced_length_over_the_limit_is_refused_before_parsing() -> None:
    files = {"file": ("a", b"x", "x/y")}
    request = request_for({"model": "m"}, files, headers={"content-length": str(10**9)})
    with pytest.raises(InvalidRequest) as info:
        async with read_form(request, max_bytes=100, slots=SLOTS):
            pass
    assert info.value.code == "file_too_large"


@pytest.mark.parametrize(
    ("content", "code"), [(b"x" * 101, "file_too_large"), (b"", None)], ids=["large", "empty"]
)
async def test_files_over_the_limit_or_empty_are_400s(content: bytes, code: str | None) -> None:
    request = request_for({"model": "m"}, {"file": ("a", content, "x/y")})
    async with read_form(request, max_bytes=1000, slots=SLOTS) as form:
        with pytest.raises(InvalidRequest) as info:
            await file_field(form, "file", max_bytes=100)
    assert info.value.param == "file" and info.value.code == code


async def test_a_file_where_text_belongs_and_text_where_a_file_belongs_are_400s() -> None:
    request = request_for({"image": "not a file"}, {"model": ("m.txt", b"m", "text/plain")})
    async with read_form(request, max_bytes=1000, slots=SLOTS) as form:
        with pytest.raises(InvalidRequest, match="must be a text field"):
            required_text(form, "model")
        with pytest.raises(InvalidRequest, match="must be a file upload"):
            await file_field(form, "image", max_bytes=100)
        with pytest.raises(InvalidRequest, match="Missing required parameter: 'prompt'"):
            required_text(form, "prompt")


async def test_uploads_beyond_the_limit_wait_then_are_refused() -> None:
    slots = Admission("uploads", 1, 0, 1)
    files = {"file": ("a", b"x", "x/y")}
    async with read_form(request_for({"model": "m"}, files), max_bytes=100, slots=slots):
        with pytest.raises(Overloaded):
            async with read_form(request_for({"model": "m"}, files), max_bytes=100, slots=slots):
                pass
    async with read_form(request_for({"model": "m"}, files), max_bytes=100, slots=slots):
        pass  # the slot came back
