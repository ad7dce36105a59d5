"""Image routes: generations, inpainting, and the /generated-images/ file server."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from ._codecs import png
from ._http import Refusal, Reply, Request, bytes_reply, json_reply
from ._state import State
from ._wire import new_id, now

MAX_SIDE = 1024
_INPAINT_SIZE = 512
_ZERO_USAGE = {
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "total_tokens": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "input_tokens_details": {"text_tokens": 0, "image_tokens": 0},
}


async def generations(request: Request, state: State) -> Reply:
    """Render one solid PNG per `n`; a URL unless `response_format` is "b64_json"."""
    body = request.json_object()
    state.resolve_model(body.get("model"))
    prompt = body.get("prompt")
    if not prompt or not isinstance(prompt, str | list):
        raise Refusal.echo(400, "prompt is required")
    width, height = _size(body.get("size"))
    count = body.get("n") or 1
    data: list[dict[str, str]] = []
    for index in range(count if isinstance(count, int) else 1):
        image = png(width, height, _colour(f"{prompt}:{index}"))
        if body.get("response_format") == "b64_json":
            data.append({"b64_json": base64.b64encode(image).decode()})
        else:
            data.append({"url": _publish(request, state, image)})
    return json_reply(200, _result(data))


async def inpainting(request: Request, state: State) -> Reply:
    """The multipart inpainting route; LocalAI always answers a 512x512 image by URL."""
    form = request.form()
    missing = [f for f in ("model", "prompt") if not form.fields.get(f)]
    missing += [f for f in ("image", "mask") if f not in form.files]
    if missing:
        raise Refusal.echo(400, f"missing required fields: {', '.join(missing)}")
    state.resolve_model(form.fields["model"])
    if not form.fields.get("steps", "25").isdigit():
        raise Refusal.echo(400, "steps must be an integer")
    image = png(_INPAINT_SIZE, _INPAINT_SIZE, _colour(form.fields["prompt"]))
    return json_reply(200, _result([{"url": _publish(request, state, image)}]))


async def generated_image(request: Request, state: State) -> Reply:
    """Serve a file published by an image route."""
    image = state.images.get(request.route.removeprefix("/generated-images/"))
    if image is None:
        raise Refusal(404, "Not Found")
    return bytes_reply(200, "image/png", image)


def base_url(request: Request) -> str:
    """LocalAI's base URL: forwarded scheme, host and prefix, else the Host header."""
    scheme = request.headers.get("x-forwarded-proto", "http")
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "localhost")
    prefix = request.headers.get("x-forwarded-prefix", "").rstrip("/")
    return f"{scheme}://{host}{prefix}/"


def _publish(request: Request, state: State, image: bytes) -> str:
    name = f"b64{secrets.randbelow(10**9)}.png"  # os.CreateTemp(dir, "b64") + ".png" in LocalAI
    state.images[name] = image
    return f"{base_url(request)}generated-images/{name}"


def _result(data: list[dict[str, str]]) -> dict[str, Any]:
    return {"id": new_id(), "created": now(), "data": data, "usage": _ZERO_USAGE}


def _size(value: Any) -> tuple[int, int]:
    """Parse "WxH" like LocalAI: no "x" means 512x512, a non-integer is a 500."""
    if not isinstance(value, str) or "x" not in value:
        return 512, 512
    sides = value.split("x", 1)
    for side in sides:
        if not side.isdigit():
            raise Refusal(500, f'strconv.Atoi: parsing "{side}": invalid syntax')
    width, height = (max(1, min(int(side), MAX_SIDE)) for side in sides)
    return width, height


def _colour(seed: str) -> tuple[int, int, int]:
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    return red, green, blue
