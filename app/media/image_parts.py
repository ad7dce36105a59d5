"""Where the images of a chat, Open Responses or Anthropic Messages body are, one `ImagePart` each.

A part is read where it stands (no copies): its parameter path for errors, its URL (an http(s)
URL or a `data:` URI), and how to put a fetched image back in the API's own shape. A part
whose shape is wrong is a 400 naming it. LocalAI fetches Responses URLs (file, video and
audio ones too) without a size bound and drops what fails, and ignores Messages URL images,
so the gateway fetches images itself (`vision`) and refuses the other URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest

CHAT_IMAGE_TYPES = frozenset({"image_url", "image"})  # LocalAI reads `image_url.url` for both
# Responses inputs LocalAI would fetch by URL, and the member that holds the URL.
_FETCHED_BY_LOCALAI = {
    "input_file": "file_url",
    "input_video": "video_url",
    "input_audio": "audio_url",
}

Put = Callable[[str, str], None]
"""Puts a fetched image back into its part: (MIME type, base64 content)."""


@dataclass(frozen=True, slots=True)
class ImagePart:
    """One image of a request: where it is, its http(s) URL or `data:` URI, how to replace it."""

    param: str
    url: str
    put: Put


@dataclass(frozen=True, slots=True)
class ImageParts:
    """The images of one API's body, and the field a too-many-images error names."""

    parts: list[ImagePart]
    field: str


def chat_images(body: dict[str, Any]) -> ImageParts:
    """The `image_url` (and LocalAI's `image`) parts of the chat messages."""
    parts = []
    for param, part in _content_parts(body, "messages"):
        if part.get("type") not in CHAT_IMAGE_TYPES:
            continue
        param += ".image_url"
        holder = part.get("image_url")
        url = holder.get("url") if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or not isinstance(url, str):
            raise InvalidRequest(f"{param} must be an object with a string 'url'.", param=param)
        parts.append(ImagePart(param, url, _data_uri_setter(holder, "url")))
    return ImageParts(parts, "messages")


def responses_images(body: dict[str, Any]) -> ImageParts:
    """The `input_image` parts of a Responses `input`; URLs of other media are refused."""
    parts = []
    for param, part in _content_parts(body, "input"):
        kind = part.get("type")
        if kind in _FETCHED_BY_LOCALAI:
            _refuse_url(part, f"{param}.{_FETCHED_BY_LOCALAI[kind]}", _FETCHED_BY_LOCALAI[kind])
        if kind != "input_image":
            continue
        url = part.get("image_url")
        if not isinstance(url, str):
            param += ".image_url" if "file_id" not in part else ".file_id"
            raise InvalidRequest(
                f"{param}: send the image as 'image_url' (an http(s) URL or a base64 data: URI);"
                " file ids are not supported.",
                param=param,
            )
        parts.append(ImagePart(f"{param}.image_url", url, _data_uri_setter(part, "image_url")))
    return ImageParts(parts, "input")


def messages_images(body: dict[str, Any]) -> ImageParts:
    """The `image` blocks of Anthropic messages: base64 sources are checked as they are, URL
    sources become base64 ones (the only kind LocalAI reads)."""
    parts = []
    for param, block in _content_parts(body, "messages"):
        if block.get("type") != "image":
            continue
        param += ".source"
        source = block.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        if kind == "base64" and isinstance(source, dict):
            media, data = source.get("media_type"), source.get("data")
            if isinstance(media, str) and isinstance(data, str):
                uri = f"data:{media};base64,{data}"
                parts.append(ImagePart(param, uri, _base64_source_setter(block)))
                continue
        elif kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
            parts.append(ImagePart(param, source["url"], _base64_source_setter(block)))
            continue
        raise InvalidRequest(
            f"{param} must be a base64 source (media_type, data) or a url source.", param=param
        )
    return ImageParts(parts, "messages")


def _content_parts(body: dict[str, Any], field: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(param, part) for every object in the `content` list of every item of `body[field]`."""
    items = body.get(field)
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict):
                    yield f"{field}[{i}].content[{j}]", part


def _refuse_url(part: dict[str, Any], param: str, member: str) -> None:
    url = part.get(member)
    if isinstance(url, str) and not url.startswith("data:"):
        raise InvalidRequest(
            f"{param}: the gateway does not forward file, video or audio URLs; send the content "
            "inline as a base64 data: URI.",
            param=param,
        )


def _data_uri_setter(holder: dict[str, Any], member: str) -> Put:
    def put(media: str, data: str) -> None:
        holder[member] = f"data:{media};base64,{data}"

    return put


def _base64_source_setter(block: dict[str, Any]) -> Put:
    def put(media: str, data: str) -> None:
        block["source"] = {"type": "base64", "media_type": media, "data": data}

    return put
