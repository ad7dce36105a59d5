"""Image generation and editing: LocalAI's replies turned into gateway URLs or inline base64.

LocalAI answers `/generated-images/<file>` URLs of its own host (which need its API key); the
gateway never hands those out. A `url` reply points at `GET /v1/images/files/{id}` instead (a
signed id, see `image_links`), and a `b64_json` reply carries the bytes even when LocalAI only
gave a URL (inpainting always does).
"""

from __future__ import annotations

import base64
import re
from typing import Any, Literal

import orjson
from starlette.responses import Response

from clients import UpstreamProtocolError

from ..errors import InvalidRequest, ModelNotFound, RouteNotFound
from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..relay.replies import relay_json
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.dispatch import Served
from ..upstream.payloads import NO_PAYLOAD, JsonPayload
from .links import FILE_NAME, ImageRef, sign_image, verify_image
from .sniff import sniff_image

Format = Literal["url", "b64_json"]
FILES_PATH = "/v1/images/files/"
_GENERATED = re.compile(r"/generated-images/([^/?#]+)")
_SIZE = re.compile(r"^(auto|[1-9][0-9]{0,4}x[1-9][0-9]{0,4})$")
MAX_N = 10


def response_format(value: object) -> Format:
    """Check OpenAI's `response_format` (default `url`); anything else is a 400."""
    if value is None or value == "url":
        return "url"
    if value == "b64_json":
        return "b64_json"
    raise InvalidRequest(
        f"Invalid response_format {value!r}: use 'url' or 'b64_json'.", param="response_format"
    )


def check_size_and_n(size: object, n: object) -> None:
    """Refuse what LocalAI would answer with a 500 or ignore: a bad `size` or `n`."""
    if size is not None and not (isinstance(size, str) and _SIZE.match(size)):
        raise InvalidRequest(f"Invalid size {size!r}: use 'WIDTHxHEIGHT'.", param="size")
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_N):
        raise InvalidRequest(f"Invalid n {n!r}: use an integer from 1 to {MAX_N}.", param="n")


async def generate(
    gateway: Gateway,
    target: ModelTarget,
    body: dict[str, Any],
    base_url: str,
    record: RequestRecord | None = None,
) -> Response:
    """Generate images; LocalAI extras (`step`, `seed`, `negative_prompt`...) pass through."""
    wanted = response_format(body.get("response_format"))
    check_size_and_n(body.get("size"), body.get("n"))
    body["response_format"] = wanted
    served = await gateway.dispatcher.send(
        target, endpoints.IMAGES, JsonPayload(body), record=record
    )
    return await deliver(gateway, served, target, wanted, base_url)


async def deliver(
    gateway: Gateway, served: Served, asked: ModelTarget, wanted: Format, base_url: str
) -> Response:
    """Turn LocalAI's image reply into the client's format (files stay on the replica that
    made them)."""
    target = served.target
    try:
        result = orjson.loads(served.reply.content)
        items = result["data"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise UpstreamProtocolError(
            f"model {target.id!r}: the upstream's image reply is not valid JSON", model=target.id
        ) from exc
    result["data"] = [await _item(gateway, served, item, wanted, base_url) for item in items]
    return relay_json(served, asked, orjson.dumps(result))


async def _item(
    gateway: Gateway, served: Served, item: Any, wanted: Format, base_url: str
) -> dict[str, Any]:
    target = served.target
    url = item.get("url") if isinstance(item, dict) else None
    if not isinstance(url, str):
        if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
            return item  # already inline, whatever was asked
        raise UpstreamProtocolError(
            f"model {target.id!r}: an upstream image has neither url nor b64_json",
            model=target.id,
        )
    ref = ImageRef(model=target.id, upstream=served.replica, name=_file_name(target, url))
    extra = {k: v for k, v in item.items() if k not in ("url", "b64_json")}
    if wanted == "b64_json":
        content, _ = await fetch_image(gateway, ref)
        return {**extra, "b64_json": base64.b64encode(content).decode()}
    key = gateway.settings.image_url_key.get_secret_value().encode()
    image_id = sign_image(key, ref, gateway.settings.image_url_ttl)
    return {**extra, "url": f"{base_url}{FILES_PATH}{image_id}"}


def _file_name(target: ModelTarget, url: str) -> str:
    match = _GENERATED.search(url)
    if match is None or match.end() != len(url) or not FILE_NAME.fullmatch(match.group(1)):
        raise UpstreamProtocolError(
            f"model {target.id!r}: the upstream returned an image URL the gateway cannot serve",
            model=target.id,
        )
    return match.group(1)


async def fetch_image(
    gateway: Gateway, ref: ImageRef, record: RequestRecord | None = None
) -> tuple[bytes, str]:
    """Download a generated image from its replica with the upstream key: (bytes, MIME type)."""
    try:
        target = gateway.registry.resolve(ref.model)
    except ModelNotFound as exc:
        raise RouteNotFound("No image has this id, or it has expired.") from exc
    if not 0 <= ref.upstream < len(target.replicas):
        raise RouteNotFound("No image has this id, or it has expired.")
    served = await gateway.dispatcher.send(
        target, endpoints.GENERATED_IMAGE.at(ref.name), NO_PAYLOAD, record=record, pin=ref.upstream
    )
    reply = served.reply
    kind = sniff_image(reply.content)
    if kind is None:
        raise UpstreamProtocolError(
            f"model {target.id!r}: the upstream's generated file is not an image", model=target.id
        )
    return reply.content, kind


async def image_file(
    gateway: Gateway, image_id: str, record: RequestRecord | None = None
) -> Response:
    """Serve a generated image by its signed id; a forged or expired id is a 404."""
    key = gateway.settings.image_url_key.get_secret_value().encode()
    content, kind = await fetch_image(gateway, verify_image(key, image_id), record)
    max_age = int(gateway.settings.image_url_ttl)
    headers = {"cache-control": f"private, max-age={max_age}", "x-content-type-options": "nosniff"}
    return Response(content, media_type=kind, headers=headers)
