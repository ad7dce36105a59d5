"""Images in chat messages: fetched by the gateway and sent upstream as checked `data:` URIs.

LocalAI refuses private addresses and silently drops an image it cannot fetch or decode (the
request still answers 200); the gateway instead fetches http(s) images itself (see
`safe_fetch`), checks every image (type, signature, size) and answers a 400 naming the part.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Any

from ..errors import InvalidRequest
from ..registry import Capability, ModelTarget
from ..settings import Settings
from .safe_fetch import FetchClient, FetchPolicy, FetchRefused, safe_fetch
from .sniff import GIF, JPEG, PNG, WEBP, sniff_image

IMAGE_PART_TYPES = frozenset({"image_url", "image"})  # LocalAI reads `image_url.url` for both
VISION_TYPES = frozenset({PNG, JPEG, WEBP, GIF})
_DATA_URI = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[^,;]+)*;base64,", re.ASCII)


def image_parts(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Return (param, part) for every image part of the messages; a quick scan, no copies."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    found = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") in IMAGE_PART_TYPES:
                    found.append((f"messages[{i}].content[{j}].image_url", part))
    return found


async def inline_images(
    body: dict[str, Any], target: ModelTarget, settings: Settings, fetcher: FetchClient
) -> None:
    """Replace every image URL of the chat `body` by a checked `data:` URI, in place.

    Raises `CapabilityNotSupported` when the model lacks `vision`, and `InvalidRequest` (400,
    `param` naming the part) for an image that cannot be fetched or is not a usable image.
    """
    parts = image_parts(body)
    if not parts:
        return
    target.require(Capability.VISION)
    policy = FetchPolicy(
        max_bytes=settings.max_image_bytes,
        timeout=settings.vision_fetch_timeout,
        allow_hosts=settings.vision_allow_hosts,
    )
    results = await asyncio.gather(
        *(_inline(part, param, policy, fetcher) for param, part in parts), return_exceptions=True
    )
    for result in results:  # the first failing part, in message order
        if isinstance(result, BaseException):
            raise result


async def _inline(
    part: dict[str, Any], param: str, policy: FetchPolicy, fetcher: FetchClient
) -> None:
    holder = part.get("image_url")
    url = holder.get("url") if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or not isinstance(url, str):
        raise InvalidRequest(f"{param} must be an object with a string 'url'.", param=param)
    if url.startswith("data:"):
        check_data_uri(url, param, policy.max_bytes)
    elif url.startswith(("http://", "https://")):
        holder["url"] = await _fetch_as_data_uri(url, param, policy, fetcher)
    else:
        raise InvalidRequest(
            f"{param}: the url must be http(s) or a base64 data: URI.", param=param
        )


async def _fetch_as_data_uri(
    url: str, param: str, policy: FetchPolicy, fetcher: FetchClient
) -> str:
    try:
        fetched = await safe_fetch(fetcher, url, policy)
    except FetchRefused as exc:
        raise InvalidRequest(
            f"{param}: the image could not be fetched: {exc}.",
            param=param,
            code="invalid_image_url",
        ) from exc
    declared = fetched.content_type.split(";", 1)[0].strip().lower()
    kind = _check_image(fetched.content, declared, param)
    return f"data:{kind};base64,{base64.b64encode(fetched.content).decode()}"


def check_data_uri(uri: str, param: str, max_bytes: int) -> None:
    """Check a `data:` image URI: base64, a supported image type that its bytes confirm, size."""
    match = _DATA_URI.match(uri)
    if match is None:
        raise InvalidRequest(
            f"{param}: a data URI must look like data:image/png;base64,<data>.", param=param
        )
    payload = uri[match.end() :]
    if len(payload) * 3 // 4 > max_bytes + 2:  # too large even before decoding
        raise _too_large(param, max_bytes)
    try:
        content = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise InvalidRequest(f"{param}: the data URI is not valid base64.", param=param) from exc
    if len(content) > max_bytes:
        raise _too_large(param, max_bytes)
    _check_image(content, match["type"].lower(), param)


def _too_large(param: str, max_bytes: int) -> InvalidRequest:
    return InvalidRequest(
        f"{param}: the image is larger than {max_bytes} bytes.", param=param, code="image_too_large"
    )


def _check_image(content: bytes, declared: str, param: str) -> str:
    """Return the image's MIME type; refuse unsupported, mislabelled or empty images."""
    kind = sniff_image(content)
    if declared == "image/jpg":
        declared = JPEG
    if kind is None or declared not in VISION_TYPES or kind != declared:
        raise InvalidRequest(
            f"{param}: not a supported image (declared {declared or 'no type'!r}; "
            "PNG, JPEG, WebP and GIF are accepted).",
            param=param,
            code="invalid_image",
        )
    return kind
