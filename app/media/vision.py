"""Images in chat, Responses and Messages bodies: fetched by the gateway, sent upstream inline.

LocalAI refuses private addresses and silently drops an image it cannot fetch or decode (the
request still answers 200); the gateway instead fetches http(s) images itself (see
`safe_fetch`), checks every image (type, signature, size) and answers a 400 naming the part.
Where the images of each API's body are is `image_parts`' job.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable

from ..errors import InvalidRequest
from ..registry import Capability, ModelTarget
from ..settings import Settings
from .image_parts import ImagePart, ImageParts
from .safe_fetch import FetchClient, FetchPolicy, FetchRefused, safe_fetch
from .sniff import GIF, JPEG, PNG, WEBP, sniff_image

FETCHES_AT_ONCE = 4  # per request: a message full of image URLs fetches them a few at a time
VISION_TYPES = frozenset({PNG, JPEG, WEBP, GIF})
_DATA_URI = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[^,;]+)*;base64,", re.ASCII)


def plan_images(
    images: ImageParts, target: ModelTarget, settings: Settings, fetcher: FetchClient
) -> Callable[[], Awaitable[None]] | None:
    """Check a body's `images` now; return the fetches of their URLs, to run once the request
    is admitted (each puts its checked image back inline), or None.

    Raises `CapabilityNotSupported` when the model lacks `vision`, and `InvalidRequest` (400)
    for more than `MAX_IMAGES_PER_REQUEST` images or, naming the part, an unusable one.
    """
    parts = images.parts
    if not parts:
        return None
    target.require(Capability.VISION)
    limit = settings.max_images_per_request
    if len(parts) > limit:
        raise InvalidRequest(
            f"Too many images: {len(parts)} (the limit is {limit}, "
            "LOCALAI_GATEWAY_MAX_IMAGES_PER_REQUEST).",
            param=images.field,
            code="too_many_images",
        )
    fetches = [part for part in parts if _needs_fetch(part, settings)]
    if not fetches:
        return None
    policy = FetchPolicy(
        max_bytes=settings.max_image_bytes,
        timeout=settings.vision_fetch_timeout,
        allow_hosts=settings.vision_allow_hosts,
    )

    async def fetch_all() -> None:
        turns = asyncio.Semaphore(FETCHES_AT_ONCE)

        async def fetch(part: ImagePart) -> None:
            async with turns:
                part.put(*await _fetch_inline(part, policy, fetcher))

        results = await asyncio.gather(*map(fetch, fetches), return_exceptions=True)
        for result in results:  # the first failing part, in message order
            if isinstance(result, BaseException):
                raise result

    return fetch_all


def _needs_fetch(part: ImagePart, settings: Settings) -> bool:
    """Check one image now (a `data:` URI whole); True when its http(s) URL must be fetched."""
    if part.url.startswith("data:"):
        check_data_uri(part.url, part.param, settings.max_image_bytes)
        return False
    if part.url.startswith(("http://", "https://")):
        return True
    raise InvalidRequest(
        f"{part.param}: the url must be http(s) or a base64 data: URI.", param=part.param
    )


async def _fetch_inline(
    part: ImagePart, policy: FetchPolicy, fetcher: FetchClient
) -> tuple[str, str]:
    """Fetch and check `part`'s image; return its MIME type and base64 content."""
    param = part.param
    try:
        fetched = await safe_fetch(fetcher, part.url, policy)
    except FetchRefused as exc:
        raise InvalidRequest(
            f"{param}: the image could not be fetched: {exc}.",
            param=param,
            code="invalid_image_url",
        ) from exc
    declared = fetched.content_type.split(";", 1)[0].strip().lower()
    kind = _check_image(fetched.content, declared, param)
    return kind, base64.b64encode(fetched.content).decode()


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
