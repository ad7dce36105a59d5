"""Contract tests for /v1/audio/transcriptions, /v1/audio/speech and /v1/rerank."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

from .samples import WAV, openai_error, write_media_registry


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    return write_media_registry(tmp_path)


def transcribe(client: TestClient, **fields: str):
    form = {"model": "whisper", **fields}
    return client.post(
        "/v1/audio/transcriptions", data=form, files={"file": ("hello.wav", WAV, "audio/wav")}
    )


def test_transcription_text_is_mapped_to_txt_and_relayed_as_text(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/audio/transcriptions").respond(
        content=b"hello world\n", headers={"content-type": "text/plain; charset=UTF-8"}
    )
    response = transcribe(client, response_format="text", language="en")
    assert response.status_code == 200, response.text
    assert response.text == "hello world\n"
    assert response.headers["content-type"].startswith("text/plain")
    content = route.calls.last.request.content
    assert b'name="response_format"\r\n\r\ntxt\r\n' in content
    assert b'name="model"\r\n\r\nwhisper-1\r\n' in content
    assert b'name="language"\r\n\r\nen\r\n' in content
    assert b'filename="hello.wav"' in content and WAV in content


def test_transcription_json_has_the_model_rewritten(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/audio/transcriptions").respond(json={"text": "hello", "model": "whisper-1"})
    response = transcribe(client, response_format="json")
    assert response.json() == {"text": "hello", "model": "whisper"}


def test_repeated_fields_are_all_forwarded(client: TestClient, localai: respx.MockRouter) -> None:
    route = localai.post("/v1/audio/transcriptions").respond(json={"text": "x"})
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper", "timestamp_granularities[]": ["word", "segment"]},
        files={"file": ("a.wav", WAV)},
    )
    assert response.status_code == 200, response.text
    content = route.calls.last.request.content
    assert content.count(b'name="timestamp_granularities[]"') == 2


@pytest.mark.parametrize(
    ("fields", "files", "param"),
    [
        ({"response_format": "mp3"}, {"file": ("a.wav", WAV)}, "response_format"),
        ({"stream": "true"}, {"file": ("a.wav", WAV)}, "stream"),
        ({}, {"other": ("a.wav", WAV)}, "file"),
        ({"file": "not a file"}, {"other": ("a.wav", WAV)}, "file"),
        ({}, {"file": ("a.wav", b"")}, "file"),
    ],
)
def test_transcription_refusals(
    client: TestClient,
    localai: respx.MockRouter,
    fields: dict[str, str],
    files: dict,
    param: str,
) -> None:
    data = {"model": "whisper", **fields}
    response = client.post("/v1/audio/transcriptions", data=data, files=files)
    assert openai_error(response, 400)["param"] == param
    assert not localai.calls


def test_transcription_needs_its_capability_and_a_size_within_limits(
    settings: Settings, localai: respx.MockRouter
) -> None:
    small = settings.model_copy(update={"max_audio_bytes": 100})
    with TestClient(create_app(small)) as client:
        wrong = client.post(
            "/v1/audio/transcriptions", data={"model": "tts"}, files={"file": ("a.wav", WAV)}
        )
        big = transcribe(client)
    openai_error(wrong, 400, "model_capability_not_supported")
    openai_error(big, 400, "file_too_large")
    assert not localai.calls


def test_speech_relays_the_audio_with_its_content_type(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/audio/speech").respond(
        content=WAV, headers={"content-type": "audio/wav"}
    )
    body = {"model": "tts", "input": "hello", "voice": "alloy", "speed": 1.5}
    response = client.post("/v1/audio/speech", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav" and response.content == WAV
    sent = orjson.loads(route.calls.last.request.content)
    assert sent == {**body, "model": "tts-1"}


def test_speech_refusals_and_upstream_errors(client: TestClient, localai: respx.MockRouter) -> None:
    missing = client.post("/v1/audio/speech", json={"model": "tts"})
    assert openai_error(missing, 400)["param"] == "input"
    wrong = client.post("/v1/audio/speech", json={"model": "whisper", "input": "x"})
    openai_error(wrong, 400, "model_capability_not_supported")
    localai.post("/v1/audio/speech").respond(
        400, json={"error": {"code": 400, "message": "code=400, message=bad speed", "type": ""}}
    )
    failed = client.post("/v1/audio/speech", json={"model": "tts", "input": "x", "speed": 9})
    assert openai_error(failed, 400)["message"] == "bad speed"


RERANK_REPLY = {
    "model": "jina-reranker-v1-base-en",
    "usage": {"total_tokens": 5, "prompt_tokens": 5},
    "results": [{"index": 1, "document": {"text": "b"}, "relevance_score": 0.9}],
}


def test_rerank_renames_the_model_both_ways(client: TestClient, localai: respx.MockRouter) -> None:
    route = localai.post("/v1/rerank").respond(json=RERANK_REPLY)
    body = {"model": "reranker", "query": "q", "documents": ["a", "b"], "top_n": 1}
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200
    assert response.json() == {**RERANK_REPLY, "model": "reranker"}
    assert orjson.loads(route.calls.last.request.content) == {
        **body,
        "model": "jina-reranker-v1-base-en",
    }


def test_rerank_bare_string_422_becomes_an_openai_error(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/rerank").respond(422, json="top_n - should be greater than or equal to 1")
    body = {"model": "reranker", "query": "q", "documents": ["a"], "top_n": 0}
    error = openai_error(client.post("/v1/rerank", json=body), 422)
    assert error["message"] == "top_n - should be greater than or equal to 1"
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "reranker", "documents": ["a"]}, 400, "query"),
        ({"model": "reranker", "query": "q", "documents": "a"}, 400, "documents"),
        ({"model": "chat-model", "query": "q", "documents": ["a"]}, 400, "model"),
        ({"model": "nope", "query": "q", "documents": ["a"]}, 404, "model"),
    ],
)
def test_rerank_refusals(
    client: TestClient, localai: respx.MockRouter, body: dict, status: int, param: str
) -> None:
    assert openai_error(client.post("/v1/rerank", json=body), status)["param"] == param
    assert not localai.calls


def test_rerank_is_retried_like_chat(client: TestClient, localai: respx.MockRouter) -> None:
    busy = httpx.Response(503, json={"error": {"code": 503, "message": "busy", "type": ""}})
    route = localai.post("/v1/rerank").mock(
        side_effect=[busy, httpx.Response(200, json=RERANK_REPLY)]
    )
    body = {"model": "reranker", "query": "q", "documents": ["a", "b"]}
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200
    assert route.call_count == 2
