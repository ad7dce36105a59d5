"""POST /v1/images/edits (OpenAI multipart) mapped onto LocalAI, which has no edits route.

With a `mask` the request goes to LocalAI's multipart `/v1/images/inpainting` (one 512x512
image, by URL); without one it is an image-to-image generation with the source as base64 `file`.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response

from ..errors import InvalidRequest
from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.payloads import FilePart, FormPayload, JsonPayload, Payload
from .images import Format, check_size_and_n, deliver, response_format
from .sniff import GIF, sniff_image
from .uploads import Upload, file_field, required_text

_SOURCE_FIELDS = ("image", "image[]")
_INTEGER_FIELDS = ("n", "step", "seed")
_FILE_FIELDS = (*_SOURCE_FIELDS, "mask")
_INPAINT_SIZES = (None, "auto", "512x512")


async def edit_image(
    gateway: Gateway,
    target: ModelTarget,
    form: FormData,
    base_url: str,
    record: RequestRecord | None = None,
) -> Response:
    """Edit the uploaded image as the form asks and deliver it in the requested format."""
    limit = gateway.settings.max_image_bytes
    image = await _source_image(form, limit)
    mask = await file_field(form, "mask", max_bytes=limit)
    if mask is not None:
        _check_image(mask, "mask")
    fields = _text_fields(form)
    required_text(form, "prompt")
    wanted = response_format(fields.pop("response_format", None))
    check_size_and_n(fields.get("size"), fields.get("n"))
    payload: Payload
    if mask is None:
        endpoint, payload = endpoints.IMAGE_TO_IMAGE, _image_to_image(image, fields, wanted)
    else:
        endpoint, payload = endpoints.INPAINTING, _inpaint(image, mask, fields)
    served = await gateway.dispatcher.send(target, endpoint, payload, record=record)
    return await deliver(gateway, served, target, wanted, base_url)


async def _source_image(form: FormData, limit: int) -> Upload:
    present = [name for name in _SOURCE_FIELDS if name in form]
    if len(present) != 1 or len(form.getlist(present[0])) != 1:
        raise InvalidRequest(
            "Send exactly one source image as 'image' (LocalAI edits one image at a time).",
            param="image",
        )
    image = await file_field(form, present[0], max_bytes=limit)
    assert image is not None  # present above
    _check_image(image, "image")
    return image


def _check_image(upload: Upload, name: str) -> None:
    kind = sniff_image(upload.content)
    if kind is None or kind == GIF:
        raise InvalidRequest(
            f"{name!r} is not a supported image: send a PNG, JPEG or WebP file.", param=name
        )


def _text_fields(form: FormData) -> dict[str, Any]:
    """The form's text fields, `n`, `step` and `seed` as integers; the rest pass as strings."""
    fields: dict[str, Any] = {}
    for name, value in form.multi_items():
        if name in _FILE_FIELDS:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"{name!r} must be a text field, not a file.", param=name)
        fields[name] = value
    for name in _INTEGER_FIELDS:
        if name in fields:
            try:
                fields[name] = int(fields[name])
            except ValueError:
                raise InvalidRequest(f"{name!r} must be an integer.", param=name) from None
    return fields


def _image_to_image(image: Upload, fields: dict[str, Any], wanted: Format) -> JsonPayload:
    """An image generation with the source image as base64 `file`."""
    body = {**fields, "response_format": wanted, "file": base64.b64encode(image.content).decode()}
    return JsonPayload(body)


def _inpaint(image: Upload, mask: Upload, fields: dict[str, Any]) -> FormPayload:
    """LocalAI's multipart inpainting form (one 512x512 image)."""
    if fields.get("n", 1) != 1 or fields.get("size") not in _INPAINT_SIZES:
        raise InvalidRequest(
            "With a mask LocalAI makes one 512x512 image: send n=1 and size 512x512 (or none).",
            param="n" if fields.get("n", 1) != 1 else "size",
        )
    text = {"prompt": str(fields["prompt"])}
    if "step" in fields:
        text["steps"] = str(fields["step"])
    files: dict[str, FilePart] = {
        name: (upload.filename, upload.content, sniff_image(upload.content) or "")
        for name, upload in (("image", image), ("mask", mask))
    }
    return FormPayload(text, files)
