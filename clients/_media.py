"""Media going up: image sniffing, images as `image_url` values, files for multipart forms."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Mapping
from pathlib import Path

import httpx

#: An image or audio file: its bytes, or the path of a file to read.
Media = bytes | str | os.PathLike[str]

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"
_URL_SCHEMES = ("http://", "https://", "data:")


def sniff_image(data: bytes) -> str | None:
    """Return the MIME type of PNG, JPEG, WebP or GIF bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


async def read_media(media: Media, default_name: str) -> tuple[str, bytes]:
    """The file name and bytes of `media`; a path is read in a worker thread."""
    if isinstance(media, bytes):
        return default_name, media
    path = Path(media)
    return path.name, await asyncio.to_thread(path.read_bytes)


async def image_url(image: Media) -> str:
    """The `image_url.url` for an image: an http(s) or `data:` URL as given, else a data URI
    of the bytes (or of the file at a path); raises ValueError for bytes that are no image."""
    if isinstance(image, str) and image.startswith(_URL_SCHEMES):
        return image
    _, data = await read_media(image, "image")
    kind = sniff_image(data)
    if kind is None:
        raise ValueError("the image is not a PNG, JPEG, WebP or GIF file")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def multipart(
    fields: Mapping[str, object], name: str, filename: str, data: bytes
) -> tuple[bytes, str]:
    """A `multipart/form-data` body with `fields` and one file part; returns body, content type."""
    request = httpx.Request(
        "POST",
        "http://form.invalid/",
        data={key: _form_value(value) for key, value in fields.items() if value is not None},
        files={name: (filename, data)},
    )
    return request.read(), request.headers["content-type"]
