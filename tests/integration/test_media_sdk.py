"""Images, vision, audio and rerank through a real gateway process, with the openai SDK."""

from __future__ import annotations

import base64
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from tests.app.media.samples import PNG, WAV
from tests.support.fake_localai import PNG_SIGNATURE
from tests.support.servers import FakeLocalAI, free_port, run_process

pytestmark = pytest.mark.integration

GATEWAY = str(Path(sys.executable).parent / "localai-gateway")
REGISTRY = """
models:
  flux:
    localai_model: flux.1-dev-ggml
    capabilities: [images, image_edit]
  vision:
    localai_model: minicpm-v-4_5
    capabilities: [chat, vision]
  whisper-1:
    localai_model: whisper-1
    capabilities: [audio_transcription]
  tts-1:
    localai_model: tts-1
    capabilities: [speech]
  jina-reranker:
    localai_model: jina-reranker-v1-base-en
    capabilities: [rerank]
"""


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving one PNG at any path."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def media_gateway(
    _fake_localai_process: FakeLocalAI, image_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A gateway with a registry of media models, allowed to fetch from the image server."""
    registry = tmp_path_factory.mktemp("media") / "models.yaml"
    registry.write_text(REGISTRY)
    port = free_port()
    env = {
        "LOCALAI_GATEWAY_LOCALAI_URL": _fake_localai_process.url,
        "LOCALAI_GATEWAY_REGISTRY": str(registry),
        "LOCALAI_GATEWAY_VISION_ALLOW_HOSTS": image_server,
    }
    cmd = [GATEWAY, "serve", "--port", str(port), "--log-level", "warning"]
    with run_process(cmd, env, port=port, ready_path="/readyz"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def media_sdk(media_gateway: str, fake_localai: FakeLocalAI) -> Iterator[OpenAI]:
    """The openai SDK pointed at the media gateway (fresh fake state), closed afterwards."""
    with OpenAI(
        base_url=f"{media_gateway}/v1", api_key="sk-test", max_retries=0, timeout=20
    ) as client:
        yield client


def test_generate_url_is_served_by_the_gateway(media_sdk: OpenAI, media_gateway: str) -> None:
    result = media_sdk.images.generate(model="flux", prompt="a cat", size="64x64", n=2)
    assert result.data is not None and len(result.data) == 2
    for image in result.data:
        assert image.url is not None and image.url.startswith(f"{media_gateway}/v1/images/files/")
        fetched = httpx.get(image.url, timeout=10)
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "image/png"
        assert fetched.content.startswith(PNG_SIGNATURE)
    forged = httpx.get(result.data[0].url[:-4] + "AAAA", timeout=10)
    assert forged.status_code == 404 and forged.json()["error"]["code"] == "not_found"


def test_generate_b64_json(media_sdk: OpenAI) -> None:
    result = media_sdk.images.generate(model="flux", prompt="a cat", response_format="b64_json")
    assert result.data is not None and result.data[0].b64_json is not None
    assert base64.b64decode(result.data[0].b64_json).startswith(PNG_SIGNATURE)


def test_edit_without_and_with_mask(media_sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    plain = media_sdk.images.edit(
        model="flux", image=("in.png", PNG), prompt="bluer", response_format="b64_json"
    )
    assert plain.data is not None and plain.data[0].b64_json is not None
    sent = fake_localai.requests("/v1/images/generations")[-1]["json"]
    assert base64.b64decode(sent["file"]) == PNG and sent["model"] == "flux.1-dev-ggml"

    masked = media_sdk.images.edit(
        model="flux", image=("in.png", PNG), mask=("mask.png", PNG), prompt="a hat"
    )
    assert masked.data is not None and masked.data[0].url is not None
    assert httpx.get(masked.data[0].url, timeout=10).content.startswith(PNG_SIGNATURE)
    assert fake_localai.requests("/v1/images/inpainting")[-1]["form"]["model"] == "flux.1-dev-ggml"


def vision_messages(url: str) -> list[dict]:
    content = [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return [{"role": "user", "content": content}]


def test_vision_http_image_is_inlined_upstream(
    media_sdk: OpenAI, fake_localai: FakeLocalAI, image_server: str
) -> None:
    reply = media_sdk.chat.completions.create(
        model="vision", messages=vision_messages(f"http://{image_server}/cat.png")
    )
    assert reply.model == "vision"
    sent = fake_localai.requests("/v1/chat/completions")[-1]["json"]
    image = sent["messages"][0]["content"][1]["image_url"]["url"]
    assert image == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_vision_forbidden_port_is_a_400(media_sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    forbidden = free_port()  # 127.0.0.1, not on the allow-list
    with pytest.raises(openai.BadRequestError) as caught:
        media_sdk.chat.completions.create(
            model="vision", messages=vision_messages(f"http://127.0.0.1:{forbidden}/x.png")
        )
    assert caught.value.param == "messages[0].content[1].image_url"
    assert not fake_localai.requests("/v1/chat/completions")


def test_transcription_text_and_json(media_sdk: OpenAI) -> None:
    text = media_sdk.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", WAV), response_format="text"
    )
    assert str(text).strip() == "mocked transcription of hello.wav"
    json = media_sdk.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", WAV), response_format="json"
    )
    assert json.text == "mocked transcription of hello.wav"


def test_speech(media_sdk: OpenAI) -> None:
    audio = media_sdk.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    assert audio.response.headers["content-type"] == "audio/wav"
    assert audio.content.startswith(b"RIFF")


def test_rerank_and_its_422(media_gateway: str) -> None:
    body = {"model": "jina-reranker", "query": "red cat", "documents": ["a dog", "a red cat"]}
    ranked = httpx.post(f"{media_gateway}/v1/rerank", json=body, timeout=10)
    assert ranked.status_code == 200
    assert ranked.json()["model"] == "jina-reranker"
    assert ranked.json()["results"][0]["index"] == 1
    refused = httpx.post(f"{media_gateway}/v1/rerank", json={**body, "top_n": 0}, timeout=10)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["message"] == "top_n - should be greater than or equal to 1"
    assert set(error) == {"message", "type", "param", "code"}
