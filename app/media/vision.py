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
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import InvalidRequest
from ..registry import Capability, ModelTarget
from ..settings import Settings
from .safe_fetch import FetchClient, FetchPolicy, FetchRefused, safe_fetch
from .sniff import GIF, JPEG, PNG, WEBP, sniff_image

FETCHES_AT_ONCE = 4  # per request: a message full of image URLs fetches them a few at a time
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


def plan_images(
    body: dict[str, Any], target: ModelTarget, settings: Settings, fetcher: FetchClient
) -> Callable[[], Awaitable[None]] | None:
    """Check the chat `body`'s images now; return the fetches of its image URLs, to run once
    the request is admitted (they replace each URL by a checked `data:` URI), or None.

    Raises `CapabilityNotSupported` when the model lacks `vision`, and `InvalidRequest` (400)
    for more than `MAX_IMAGES_PER_REQUEST` images or, naming the part, an unusable one.
    """
    parts = image_parts(body)
    if not parts:
        return None
    target.require(Capability.VISION)
    limit = settings.max_images_per_request
    if len(parts) > limit:
        raise InvalidRequest(
            f"Too many images: {len(parts)} (the limit is {limit}, "
            "LOCALAI_GATEWAY_MAX_IMAGES_PER_REQUEST).",
            param="messages",
            code="too_many_images",
        )
    fetches = [fetch for param, part in parts if (fetch := _plan(part, param, settings))]
    if not fetches:
        return None
    policy = FetchPolicy(
        max_bytes=settings.max_image_bytes,
        timeout=settings.vision_fetch_timeout,
        allow_hosts=settings.vision_allow_hosts,
    )

    async def fetch_all() -> None:
        turns = asyncio.Semaphore(FETCHES_AT_ONCE)

        async def fetch(holder: dict[str, Any], param: str) -> None:
            async with turns:
                holder["url"] = await _fetch_as_data_uri(holder["url"], param, policy, fetcher)

        results = await asyncio.gather(
            *(fetch(holder, param) for holder, param in fetches), return_exceptions=True
        )
        for result in results:  # the first failing part, in message order
            if isinstance(result, BaseException):
                raise result

    return fetch_all


def _plan(
    part: dict[str, Any], param: str, settings: Settings
) -> tuple[dict[str, Any], str] | None:
    """Check one image part; return (its holder, param) when its URL must be fetched."""
    holder = part.get("image_url")
    url = holder.get("url") if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or not isinstance(url, str):
        raise InvalidRequest(f"{param} must be an object with a string 'url'.", param=param)
    if url.startswith("data:"):
        check_data_uri(url, param, settings.max_image_bytes)
        return None
    if url.startswith(("http://", "https://")):
        return holder, param
    raise InvalidRequest(f"{param}: the url must be http(s) or a base64 data: URI.", param=param)


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
