"""POST /v1/audio/transcriptions (multipart) and POST /v1/audio/speech (JSON)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..media import audio
from ..media.uploads import read_form, text_field
from ..observability import current_record
from ..registry import Capability
from ..relay.bodies import require_field
from ..relay.replies import relay_body
from ..state import Gateway, get_gateway
from ..upstream import endpoints
from . import model_request, target_for

router = APIRouter()
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


@router.post("/v1/audio/transcriptions", summary="Transcribe audio (OpenAI multipart)")
async def transcriptions(request: Request, gateway: GatewayDep) -> Response:
    """Transcribe an uploaded audio file; `text` replies come back as plain text."""
    limit = gateway.settings.max_audio_bytes
    async with read_form(request, max_bytes=limit, slots=gateway.dispatcher.uploads) as form:
        name = text_field(form, "model") or None
        target = target_for(request, gateway, name, Capability.AUDIO_TRANSCRIPTION)
        return await audio.transcribe(gateway, target, form, current_record(request))


@router.post("/v1/audio/speech", summary="Generate speech (OpenAI-compatible)")
async def speech(request: Request, gateway: GatewayDep) -> Response:
    """Speak `input`; the audio is relayed with LocalAI's content type (WAV by default)."""
    body, target = await model_request(request, gateway, Capability.SPEECH)
    require_field(body, "input", str)
    return await relay_body(gateway, target, endpoints.SPEECH, body, current_record(request))
