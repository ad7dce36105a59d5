"""Shared pieces of the media tests: a registry with every media model, images, error checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.fake_localai._codecs import png, wav

MEDIA_REGISTRY = """
models:
  chat-model:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
  vision-model:
    localai_model: minicpm-v-4_5
    capabilities: [chat, vision]
  image-model:
    localai_model: flux.1-dev-ggml
    capabilities: [images, image_edit]
    defaults: {step: 20}
  generate-only:
    localai_model: sd-turbo
    capabilities: [images]
  whisper:
    localai_model: whisper-1
    capabilities: [audio_transcription]
  tts:
    localai_model: tts-1
    capabilities: [speech]
  reranker:
    localai_model: jina-reranker-v1-base-en
    capabilities: [rerank]
"""

PNG = png(2, 2, (200, 10, 10))
JPEG = b"\xff\xd8\xff\xe0" + bytes(32)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)
GIF = b"GIF89a" + bytes(16)
WAV = wav(0.05)


def write_media_registry(directory: Path) -> Path:
    """Write the media registry into `directory` and return its path."""
    path = directory / "media-models.yaml"
    path.write_text(MEDIA_REGISTRY)
    return path


def openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert an OpenAI-shaped error with `status` (and `code`); return the error object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error
