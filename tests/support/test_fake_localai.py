"""The fake LocalAI must behave like LocalAI v4.9 (research/localai.md), faults included."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import sys
import time
import wave
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.support.fake_localai import PNG_SIGNATURE, Config, FakeLocalAIApp
from tests.support.servers import FakeLocalAI, free_port, run_process

CHAT = "qwen3-30b-instruct:q4_k_m"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STREAM_WORDS = ["mocked", " response", " to:", " hi", " there"]


def chat_body(text: str = "hi there", **extra: Any) -> dict[str, Any]:
    return {"model": CHAT, "messages": [{"role": "user", "content": text}], **extra}


def events(body: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    assert body.endswith("\n\n")
    return [block.removeprefix("data: ") for block in body[:-2].split("\n\n")]


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture
async def client(fake_localai_app: FakeLocalAIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_localai_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake:8080") as c:
        yield c


@pytest.fixture
async def live(fake_localai: FakeLocalAI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake_localai.url, timeout=5.0) as c:
        yield c


# Chat: shapes byte for byte.


@pytest.mark.parametrize(
    "stream_options", [None, {"include_usage": False}, {"include_usage": True}]
)
async def test_chat_stream_bytes_match_localai(
    client: httpx.AsyncClient, stream_options: dict[str, bool] | None
) -> None:
    extra = {"stream_options": stream_options} if stream_options else {}
    response = await client.post("/v1/chat/completions", json=chat_body(stream=True, **extra))
    assert response.headers["content-type"] == "text/event-stream"
    first = json.loads(events(response.text)[0])
    assert UUID.fullmatch(first["id"])
    head = (
        f'{{"created":{first["created"]},"object":"chat.completion.chunk",'
        f'"id":"{first["id"]}","model":"{CHAT}"'
    )

    def chunk(delta: str, finish: str = "null") -> str:
        return (
            f'data: {head},"choices":[{{"index":0,"finish_reason":{finish},"delta":{delta}}}]}}\n\n'
        )

    expected = chunk('{"role":"assistant","content":null}')
    expected += "".join(chunk(f'{{"content":"{w}"}}') for w in STREAM_WORDS)
    expected += chunk('{"content":null}', '"stop"')
    if stream_options == {"include_usage": True}:
        usage = '{"prompt_tokens":2,"completion_tokens":5,"total_tokens":7}'
        expected += f'data: {head},"choices":[],"usage":{usage}}}\n\n'
    assert response.text == expected + "data: [DONE]\n\n"


async def test_chat_non_stream_is_echo_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/chat/completions", json=chat_body("a <b>"), headers={"X-Correlation-ID": "corr-1"}
    )
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "corr-1"
    assert response.text.endswith("}\n")  # Echo's encoder newline
    assert r"a \u003cb\u003e" in response.text  # Go escapes HTML characters
    body = response.json()
    assert UUID.fullmatch(body["id"]) and body["object"] == "chat.completion"
    assert body["model"] == CHAT
    assert body["choices"] == [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "mocked response to: a <b>"},
        }
    ]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}


async def test_chat_generates_correlation_id_and_honours_max_tokens(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/chat/completions", json=chat_body(max_tokens=2))
    assert UUID.fullmatch(response.headers["x-correlation-id"])
    choice = response.json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("mocked response", "length")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            chat_body() | {"model": "nope"},
            404,
            'model "nope" not found. To see available models, call GET /v1/models',
        ),
        ({"model": CHAT}, 400, "code=400, message=messages is required"),
    ],
)
async def test_chat_refusals(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message
    assert response.json()["error"]["code"] == status


async def test_malformed_json_is_echo_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", content=b"{nope")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == ""
    assert error["message"].startswith("code=400, message=failed parsing request body: ")


# Magic prompts.


async def test_mock_error_is_500_when_not_streaming(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=chat_body("MOCK_ERROR"))
    assert response.status_code == 500
    assert "simulated failure" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("prompt", "content_chunks"), [("MOCK_ERROR_MIDSTREAM", 3), ("MOCK_ERROR_IMMEDIATE", 0)]
)
async def test_stream_errors_are_events_in_a_200(
    client: httpx.AsyncClient, prompt: str, content_chunks: int
) -> None:
    response = await client.post("/v1/chat/completions", json=chat_body(prompt, stream=True))
    assert response.status_code == 200
    payloads = events(response.text)
    error = '{"error":{"message":"simulated failure","type":"server_error","code":"server_error"}}'
    assert payloads[-2:] == [error, "[DONE]"]
    assert len(payloads) == 2 + (content_chunks + 1 if content_chunks else 0)


async def test_reasoning_deltas(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json=chat_body("MOCK_REASONING", stream=True)
    )
    deltas = [json.loads(p)["choices"][0]["delta"] for p in events(response.text)[:-1]]
    reasoning = "".join(d["reasoning"] for d in deltas if "reasoning" in d)
    assert reasoning == "thinking about: MOCK_REASONING"
    assert all(d["content"] is None for d in deltas if "reasoning" in d)
    answer = await client.post("/v1/chat/completions", json=chat_body("MOCK_REASONING"))
    assert answer.json()["choices"][0]["message"]["reasoning"] == reasoning


async def test_think_tags_split_across_chunks(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json=chat_body("MOCK_THINK_TAGS", stream=True)
    )
    pieces = [json.loads(p)["choices"][0]["delta"]["content"] for p in events(response.text)[1:-2]]
    assert "".join(pieces) == "<think>thinking</think>answer"
    assert "<think>" not in pieces and len(pieces) > 3


# Other routes.


async def test_embeddings_are_deterministic_without_usage(client: httpx.AsyncClient) -> None:
    body = {"model": "text-embedding-ada-002", "input": ["doc", "cat"]}
    batch = (await client.post("/v1/embeddings", json=body)).json()
    single = (await client.post("/v1/embeddings", json=body | {"input": "cat"})).json()
    assert "usage" not in batch and batch["object"] == "list"
    vectors = [item["embedding"] for item in batch["data"]]
    assert [item["index"] for item in batch["data"]] == [0, 1]
    assert vectors[0] != vectors[1] and vectors[1] == single["data"][0]["embedding"]
    packed = await client.post("/v1/embeddings", json=body | {"encoding_format": "base64"})
    raw = base64.b64decode(packed.json()["data"][1]["embedding"])
    assert list(struct.unpack("<8f", raw)) == pytest.approx(vectors[1])


async def test_embeddings_refuse_input_with_messages(client: httpx.AsyncClient) -> None:
    body = {"model": "text-embedding-ada-002", "input": "a", "messages": []}
    assert (await client.post("/v1/embeddings", json=body)).status_code == 400


async def test_models_and_probes(
    client: httpx.AsyncClient, fake_localai_app: FakeLocalAIApp
) -> None:
    models = (await client.get("/v1/models")).json()
    assert models["object"] == "list"
    assert models["data"][0] == {"id": CHAT, "object": "model"}
    assert (await client.get("/healthz")).content == b""
    assert (await client.get("/readyz/")).status_code == 200  # trailing slash removed
    fake_localai_app.state.config.ready = False
    starting = await client.get("/readyz")
    assert (starting.status_code, starting.json()["status"]) == (503, "starting")


async def test_api_key_like_localai() -> None:
    app = FakeLocalAIApp(Config(api_keys=["secret"]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f") as c:
        refused = await c.get("/v1/models")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json() == {
            "error": {
                "code": 401,
                "message": "An authentication key is required",
                "type": "invalid_request_error",
            }
        }
        for headers in ({"Authorization": "Bearer secret"}, {"x-api-key": "secret"}):
            assert (await c.get("/v1/models", headers=headers)).status_code == 200
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/readyz")).status_code == 200


async def test_images_url_serves_a_png_behind_the_key() -> None:
    app = FakeLocalAIApp(Config(api_keys=["k"]))
    auth = {"x-api-key": "k"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f") as c:
        body = {"model": "flux.1-dev-ggml", "prompt": "cat", "size": "16x8"}
        result = (await c.post("/v1/images/generations", json=body, headers=auth)).json()
        assert result["usage"]["total_tokens"] == 0 and UUID.fullmatch(result["id"])
        url = result["data"][0]["url"]
        assert re.fullmatch(r"http://f/generated-images/b64\d+\.png", url)
        assert (await c.get(url)).status_code == 401
        image = (await c.get(url, headers=auth)).content
        assert image.startswith(PNG_SIGNATURE)
        assert struct.unpack(">II", image[16:24]) == (16, 8)
        forwarded = {**auth, "X-Forwarded-Host": "gw.example", "X-Forwarded-Proto": "https"}
        result = (await c.post("/v1/images/generations", json=body, headers=forwarded)).json()
        assert result["data"][0]["url"].startswith("https://gw.example/generated-images/")


async def test_images_b64_inpainting_and_no_edits(client: httpx.AsyncClient) -> None:
    body = {"prompt": "cat", "size": "4x4", "response_format": "b64_json", "n": 2}
    data = (await client.post("/v1/images/generations", json=body)).json()["data"]
    assert len(data) == 2 and base64.b64decode(data[0]["b64_json"]).startswith(PNG_SIGNATURE)
    form = {"model": "flux.1-dev-ggml", "prompt": "dog"}
    files = {"image": ("a.png", PNG_SIGNATURE), "mask": ("m.png", PNG_SIGNATURE)}
    inpainted = await client.post("/v1/images/inpainting", data=form, files=files)
    assert list(inpainted.json()["data"][0]) == ["url"]
    assert (await client.post("/v1/images/edits", json=body)).status_code == 404


TRANSCRIPT = "mocked transcription of clip.wav"


@pytest.mark.parametrize(
    ("response_format", "check"),
    [
        ("", lambda r: r.json()["segments"][0]["text"] == TRANSCRIPT),
        ("verbose_json", lambda r: r.json()["duration"] == 1.5),
        ("json", lambda r: r.json() == {"text": TRANSCRIPT}),
        ("txt", lambda r: r.text == TRANSCRIPT + "\n"),
        ("srt", lambda r: r.text.startswith("1\n00:00:00,000 --> ")),
        ("vtt", lambda r: r.text.startswith("WEBVTT\n\n00:00:00.000 --> ")),
        ("text", lambda r: r.json()["error"]["message"] == "invalid response_format"),
    ],
)
async def test_transcription_formats(
    client: httpx.AsyncClient,
    fake_localai_app: FakeLocalAIApp,
    response_format: str,
    check: Callable[[httpx.Response], bool],
) -> None:
    audio = b"RIFF\r\n--\xff\x00 binary\r\n"
    form = {"model": "whisper-1", "response_format": response_format}
    response = await client.post(
        "/v1/audio/transcriptions", data=form, files={"file": ("clip.wav", audio)}
    )
    assert response.status_code == (500 if response_format == "text" else 200)
    assert check(response)
    recorded = fake_localai_app.state.requests[-1]["form"]
    assert recorded["file"]["size"] == len(audio) and recorded["model"] == "whisper-1"


async def test_speech_is_wav(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hello!"})
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getnframes() > 0


async def test_rerank_shape_and_top_n_quirk(client: httpx.AsyncClient) -> None:
    docs = ["x y", "cat", "cat dog"]
    body = {"model": "jina-reranker-v1-base-en", "query": "cat dog", "documents": docs, "top_n": 2}
    result = (await client.post("/v1/rerank", json=body)).json()
    assert result["model"] == "jina-reranker-v1-base-en"
    assert [r["index"] for r in result["results"]] == [2, 1]
    assert all(r["document"]["text"] == docs[r["index"]] for r in result["results"])
    refused = await client.post("/v1/rerank", json=body | {"top_n": 0})
    assert refused.status_code == 422
    assert refused.json() == "top_n - should be greater than or equal to 1"


async def test_requests_are_recorded(
    client: httpx.AsyncClient, fake_localai_app: FakeLocalAIApp
) -> None:
    headers = {"Authorization": "Bearer k", "X-Correlation-ID": "c1"}
    await client.post("/v1/chat/completions", json=chat_body(top_k=5), headers=headers)
    recorded = (await client.get("/__requests")).json()
    assert recorded == fake_localai_app.state.requests
    assert recorded[-1]["json"]["top_k"] == 5
    assert recorded[-1]["headers"]["authorization"] == "Bearer k"
    assert recorded[-1]["headers"]["x-correlation-id"] == "c1"
    await client.delete("/__requests")
    assert (await client.get("/__requests")).json() == []


async def test_fault_schema_is_checked(client: httpx.AsyncClient) -> None:
    for bad in ({"stall": 1}, {"status": "503"}, {"times": 0}, {"slow_events_ms": -1}):
        response = await client.post("/__faults", json=bad)
        assert response.status_code == 400, bad


# Faults under uvicorn, with a real client.


@pytest.mark.integration
async def test_status_fault_hits_next_n_matching_requests(
    fake_localai: FakeLocalAI, live: httpx.AsyncClient
) -> None:
    fake_localai.set_faults({"status": 503, "retry_after": 7, "times": 2, "model": CHAT})
    assert (await live.get("/healthz")).status_code == 200  # probes are left alone
    other = chat_body() | {"model": "openai-gpt-oss-20b:q4_k_m"}
    assert (await live.post("/v1/chat/completions", json=other)).status_code == 200
    for _ in range(2):
        response = await live.post("/v1/chat/completions", json=chat_body())
        assert (response.status_code, response.headers["retry-after"]) == (503, "7")
        assert response.json()["error"]["code"] == 503
    assert (await live.post("/v1/chat/completions", json=chat_body())).status_code == 200


@pytest.mark.integration
async def test_cut_after_events_breaks_the_chunked_body(
    fake_localai: FakeLocalAI, live: httpx.AsyncClient
) -> None:
    fake_localai.set_faults({"cut_after_events": 3})
    seen: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with live.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as r:
            async for line in r.aiter_lines():
                seen.append(line)
    assert len([line for line in seen if line]) == 3 and "data: [DONE]" not in seen
    assert fake_localai.stats()["cut"] == 1


@pytest.mark.integration
async def test_cut_non_stream_body(fake_localai: FakeLocalAI, live: httpx.AsyncClient) -> None:
    fake_localai.set_faults({"cut_after_events": 0})
    with pytest.raises(httpx.RemoteProtocolError):
        await live.post("/v1/chat/completions", json=chat_body())


@pytest.mark.integration
async def test_stall_before_headers_times_out_and_counts_disconnect(
    fake_localai: FakeLocalAI, live: httpx.AsyncClient
) -> None:
    fake_localai.set_faults({"stall_before_headers": 30})
    with pytest.raises(httpx.ReadTimeout):
        await live.post("/v1/chat/completions", json=chat_body(), timeout=0.3)
    wait_for(lambda: fake_localai.stats()["disconnected"] == 1)
    assert fake_localai.stats()["active_requests"] == 0


@pytest.mark.integration
@pytest.mark.parametrize(
    ("fault", "events_before_stall"),
    [({"stall_before_first_event": 30}, 0), ({"stall_after_events": 2}, 2)],
)
async def test_stream_stalls_time_out_and_free_the_slot(
    fake_localai: FakeLocalAI,
    live: httpx.AsyncClient,
    fault: dict[str, Any],
    events_before_stall: int,
) -> None:
    fake_localai.set_faults(fault)
    seen: list[str] = []
    timeout = httpx.Timeout(5.0, read=0.3)
    with pytest.raises(httpx.ReadTimeout):
        async with live.stream(
            "POST", "/v1/chat/completions", json=chat_body(stream=True), timeout=timeout
        ) as r:
            assert r.status_code == 200  # headers arrived before the silence
            assert fake_localai.stats()["active_streams"] == 1
            async for line in r.aiter_lines():
                seen.append(line)
    assert len([line for line in seen if line]) == events_before_stall
    wait_for(lambda: fake_localai.stats()["disconnected"] == 1)
    assert fake_localai.stats()["active_streams"] == 0


@pytest.mark.integration
async def test_stall_with_seconds_resumes(
    fake_localai: FakeLocalAI, live: httpx.AsyncClient
) -> None:
    fake_localai.set_faults({"stall_after_events": 1, "stall_seconds": 0.2, "slow_events_ms": 20})
    started = time.monotonic()
    response = await live.post("/v1/chat/completions", json=chat_body(stream=True))
    assert time.monotonic() - started >= 0.2 + 7 * 0.02
    assert events(response.text)[-1] == "[DONE]"
    assert fake_localai.stats()["disconnected"] == 0


@pytest.mark.integration
async def test_malformed_json(fake_localai: FakeLocalAI, live: httpx.AsyncClient) -> None:
    fake_localai.set_faults({"malformed_json": True, "times": 2})
    with pytest.raises(json.JSONDecodeError):
        (await live.post("/v1/chat/completions", json=chat_body())).json()
    streamed = await live.post("/v1/chat/completions", json=chat_body(stream=True))
    with pytest.raises(json.JSONDecodeError):
        json.loads(events(streamed.text)[1])


@pytest.mark.integration
async def test_kill_and_restart_on_the_same_port(
    fake_localai: FakeLocalAI, live: httpx.AsyncClient
) -> None:
    url = fake_localai.url
    fake_localai.kill()
    with pytest.raises(httpx.ConnectError):
        await live.get("/healthz")
    fake_localai.restart()
    assert fake_localai.url == url
    assert (await live.get("/healthz")).status_code == 200


@pytest.mark.integration
def test_process_flags_and_runtime_config() -> None:
    with FakeLocalAI(models=["m1"], api_key="k", starting=True) as fake:
        assert httpx.get(fake.url + "/readyz").status_code == 503
        models = httpx.get(fake.url + "/v1/models", headers={"x-api-key": "k"}).json()
        assert [m["id"] for m in models["data"]] == ["m1"]
        fake.configure(ready=True, models=["m1", "m2"])
        assert httpx.get(fake.url + "/readyz").status_code == 200


@pytest.mark.integration
def test_run_process_reports_a_dead_server() -> None:
    cmd = [sys.executable, "-c", "print('boom: cannot bind'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match="boom: cannot bind"), run_process(cmd, port=free_port()):
        pass


@pytest.mark.integration
def test_run_process_times_out_and_stops_the_process() -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    with (
        pytest.raises(RuntimeError, match="not ready"),
        run_process(cmd, port=free_port(), timeout=0.5),
    ):
        pass
