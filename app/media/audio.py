"""Audio: transcriptions (multipart, OpenAI's `text` format mapped to LocalAI's `txt`).

Replies are relayed with LocalAI's content type; JSON ones get `model` rewritten to the id.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from ..errors import InvalidRequest
from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..relay.replies import relay_json
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.payloads import FormPayload
from .uploads import file_field

# OpenAI's formats and LocalAI's own; LocalAI answers a 500 for `text`, which it calls `txt`.
TRANSCRIPT_FORMATS = {
    "json": "json",
    "verbose_json": "verbose_json",
    "text": "txt",
    "srt": "srt",
    "vtt": "vtt",
    "txt": "txt",
    "lrc": "lrc",
}


async def transcribe(
    gateway: Gateway, target: ModelTarget, form: FormData, record: RequestRecord | None = None
) -> Response:
    """Forward an upload to LocalAI's `/v1/audio/transcriptions` with the model renamed."""
    upload = await file_field(form, "file", max_bytes=gateway.settings.max_audio_bytes)
    if upload is None:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file")
    content_type = upload.content_type or "application/octet-stream"
    payload = FormPayload(
        _transcription_fields(form), {"file": (upload.filename, upload.content, content_type)}
    )
    served = await gateway.dispatcher.send(target, endpoints.TRANSCRIPTION, payload, record=record)
    return relay_json(served, target)


def _transcription_fields(form: FormData) -> dict[str, str | list[str]]:
    """The form's text fields for LocalAI (the payload names the model): `response_format`
    mapped."""
    fields: dict[str, str | list[str]] = {}
    for name, value in form.multi_items():
        if name in ("file", "model"):
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"{name!r} must be a text field, not a file.", param=name)
        if name == "response_format":
            if value not in TRANSCRIPT_FORMATS:
                raise InvalidRequest(
                    f"Invalid response_format {value!r}: use one of "
                    + ", ".join(sorted(TRANSCRIPT_FORMATS)),
                    param="response_format",
                )
            value = TRANSCRIPT_FORMATS[value]
        if name == "stream" and value.lower() == "true":
            raise InvalidRequest(
                "Streaming transcription is not supported by this gateway.", param="stream"
            )
        previous = fields.get(name)
        fields[name] = value if previous is None else [*_as_list(previous), value]
    return fields


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]
