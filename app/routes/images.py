"""POST /v1/images/generations, POST /v1/images/edits, GET /v1/images/files/{image_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..media import images
from ..media.edits import edit_image
from ..media.uploads import read_form, text_field
from ..observability import current_record
from ..registry import Capability
from ..relay.bodies import require_field
from ..state import Gateway, get_gateway
from . import model_request, path_parameter, target_for

router = APIRouter()
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def public_base_url(request: Request, gateway: Gateway) -> str:
    """The gateway's URL as clients see it: the configured one, else this request's."""
    return gateway.settings.public_base_url or str(request.base_url).rstrip("/")


@router.post("/v1/images/generations", summary="Create images (OpenAI-compatible)")
async def generations(request: Request, gateway: GatewayDep) -> Response:
    """Generate images; `url` replies point at this gateway, never at LocalAI."""
    body, target = await model_request(request, gateway, Capability.IMAGES)
    require_field(body, "prompt", (str, list))
    base_url = public_base_url(request, gateway)
    return await images.generate(gateway, target, body, base_url, current_record(request))


@router.post("/v1/images/edits", summary="Edit or inpaint an image (OpenAI multipart)")
async def edits(request: Request, gateway: GatewayDep) -> Response:
    """Edit one image (inpainting when a mask is sent)."""
    limit = 2 * gateway.settings.max_image_bytes
    async with read_form(request, max_bytes=limit, slots=gateway.dispatcher.uploads) as form:
        name = text_field(form, "model") or None
        target = target_for(request, gateway, name, Capability.IMAGE_EDIT)
        base_url = public_base_url(request, gateway)
        return await edit_image(gateway, target, form, base_url, current_record(request))


@router.get(
    "/v1/images/files/{image_id}",
    summary="Download a generated image",
    openapi_extra=path_parameter("image_id"),
)
async def files(request: Request, gateway: GatewayDep) -> Response:
    """Serve a generated image by the signed id an images reply gave out."""
    return await images.image_file(
        gateway, request.path_params["image_id"], current_record(request)
    )
