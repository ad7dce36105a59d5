"""Audio routes: transcriptions (every LocalAI response_format) and speech (WAV)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.chunks import SSE_DONE, sse_event

from ._chat import words
from ._codecs import wav
from ._http import Refusal, Reply, Request, bytes_reply, json_reply
from ._state import State

SEGMENT_SECONDS = 1.5
SPEECH_SECONDS = 0.25
_FFMPEG_FORMATS = ("mp3", "aac", "flac", "opus")


def _segment(text: str) -> dict[str, Any]:
    return {"id": 0, "start": 0.0, "end": SEGMENT_SECONDS, "text": text, "tokens": [1, 2, 3]}


def _verbose(text: str, language: str) -> dict[str, Any]:
    result: dict[str, Any] = {"text": text, "segments": [_segment(text)]}
    if language:
        result["language"] = language
    return {**result, "duration": SEGMENT_SECONDS}


def _plain(content_type: str, render: Callable[[str], str]) -> Callable[[str, str], Reply]:
    return lambda text, _language: bytes_reply(200, content_type, render(text).encode())


_TEXT = "text/plain; charset=UTF-8"
_FORMATS: dict[str, Callable[[str, str], Reply]] = {
    "": lambda text, language: json_reply(200, _verbose(text, language)),
    "verbose_json": lambda text, language: json_reply(200, _verbose(text, language)),
    "json": lambda text, _language: json_reply(200, {"text": text}),
    "txt": _plain(_TEXT, lambda text: f"{text}\n"),
    "srt": _plain(_TEXT, lambda text: f"1\n00:00:00,000 --> 00:00:01,500\n{text}\n\n"),
    "vtt": _plain(_TEXT, lambda text: f"WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n{text}\n\n"),
    "lrc": _plain(_TEXT, lambda text: f"[00:00.00]{text}\n"),
}


async def transcriptions(request: Request, state: State) -> Reply:
    """Transcribe to "mocked transcription of <filename>" in the requested format."""
    form = request.form()
    state.resolve_model(form.fields.get("model"))
    upload = form.files.get("file")
    if upload is None:
        raise Refusal(500, "http: no such file")
    text = f"mocked transcription of {upload.filename}"
    if form.fields.get("stream") == "true":
        return _transcription_stream(text)
    render = _FORMATS.get(form.fields.get("response_format", ""))
    if render is None:  # OpenAI's "text" included: LocalAI only knows "txt"
        raise Refusal(500, "invalid response_format")
    return render(text, form.fields.get("language", ""))


def _transcription_stream(text: str) -> Reply:
    deltas = [sse_event({"type": "transcript.text.delta", "delta": w}) for w in words(text)]
    done = sse_event({"type": "transcript.text.done", "text": text})
    return Reply(
        200, [("content-type", "text/event-stream")], [*deltas, done, SSE_DONE], stream=True
    )


async def speech(request: Request, state: State) -> Reply:
    """Speak `input` as a short WAV, LocalAI's format whatever `response_format` says,
    except the ffmpeg formats, which this fake cannot encode and refuses loudly."""
    body = request.json_object()
    model = state.resolve_model(body.get("model"))
    if not isinstance(body.get("input"), str) or not body["input"]:
        raise Refusal.echo(400, "input is required")
    speed = body.get("speed")
    if speed is not None and not (isinstance(speed, int | float) and 0.25 <= speed <= 4.0):
        raise Refusal.echo(400, f"speed must be between 0.25 and 4.0, got {json.dumps(speed)}")
    if body.get("response_format") in _FFMPEG_FORMATS:
        raise Refusal(500, f"fake LocalAI: cannot encode {body['response_format']}, only wav")
    disposition = f'attachment; filename="{model}.wav"'
    return bytes_reply(
        200, "audio/wav", wav(SPEECH_SECONDS), [("content-disposition", disposition)]
    )
