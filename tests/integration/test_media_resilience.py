"""Media calls take the one way to LocalAI: replicas, retries and admission, as chat does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.app.media.samples import WAV
from tests.integration.conftest import gateway_process
from tests.support.fake_localai import PNG_SIGNATURE
from tests.support.servers import FakeLocalAI

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "hi"}]


def registry(a: str, b: str) -> str:
    return f"""
models:
  flux:
    localai_model: flux.1-dev-ggml
    capabilities: [images]
    upstreams: [{a}, {b}]
  flux-b:
    localai_model: flux.1-dev-ggml
    capabilities: [images]
    upstreams: [{b}]
  whisper-1:
    localai_model: whisper-1
    capabilities: [audio_transcription]
    upstreams: [{a}, {b}]
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: [{b}]
"""


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[FakeLocalAI, FakeLocalAI]]:
    with FakeLocalAI() as a, FakeLocalAI() as b:
        yield a, b


@pytest.fixture
def fakes(replicas: tuple[FakeLocalAI, FakeLocalAI]) -> tuple[FakeLocalAI, FakeLocalAI]:
    for fake in replicas:
        if not fake.alive:
            fake.restart()
        fake.clear()
    return replicas


@pytest.fixture
def gateway(fakes: tuple[FakeLocalAI, FakeLocalAI], tmp_path: Path) -> Iterator[str]:
    a, b = fakes
    env = {
        "LOCALAI_GATEWAY_MAX_CONCURRENCY": "1",
        "LOCALAI_GATEWAY_MAX_QUEUE": "0",
        "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0",
        "LOCALAI_GATEWAY_RETRY_BACKOFF": "0.01",
    }
    with gateway_process(registry(a.url, b.url), tmp_path, env) as (url, _):
        yield url


def sdk(gateway: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=30)


def test_images_and_transcription_move_past_a_replica_refusing_connections(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    a, b = fakes
    a.kill()
    client = sdk(gateway)
    for _ in range(6):
        image = client.images.generate(model="flux", prompt="a cat", response_format="url")
        assert image.data and image.data[0].url
        png = httpx.get(image.data[0].url, timeout=30)  # fetched back from the replica that made it
        assert png.status_code == 200 and png.content.startswith(PNG_SIGNATURE)
        text = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", WAV))
        assert text.text
    assert len(b.requests("/v1/images/generations")) == 6
    assert len(b.requests("/v1/audio/transcriptions")) == 6


def test_an_image_upstream_answering_503_once_is_retried(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    _, b = fakes
    b.set_faults({"status": 503, "path": "/v1/images/generations", "times": 1})
    image = sdk(gateway).images.generate(model="flux-b", prompt="a cat", response_format="b64_json")
    assert image.data and image.data[0].b64_json
    assert len(b.requests("/v1/images/generations")) == 2


def test_image_traffic_counts_against_max_concurrency(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    _, b = fakes
    b.set_faults({"stall_after_events": 1, "stall_seconds": 3, "path": "/v1/chat/completions"})
    body = {"model": "chat", "messages": HELLO, "stream": True}
    with httpx.stream("POST", gateway + "/v1/chat/completions", json=body, timeout=30) as held:
        assert held.status_code == 200
        lines = held.iter_lines()  # keep the iterator: dropping it closes the stream
        next(lines)
        refused = httpx.post(
            gateway + "/v1/images/generations",
            json={"model": "flux-b", "prompt": "a cat"},
            timeout=30,
        )
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "overloaded"
    assert refused.headers["retry-after"] == "1"
