"""The byte relay and the chunk relay send the same frames for the same upstream stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

from ..conftest import LOCALAI

# A stream as LocalAI v4.9 writes it (Go's encoding/json: compact UTF-8 with HTML characters
# escaped, `content` never omitted):
# role chunk with null content, text, a reasoning delta, the final chunk with a null delta, the
# usage trailer without completion tokens, [DONE].
RECORDED = b"".join(
    b"data: " + line + b"\n\n"
    for line in (
        b'{"created":1733300000,"object":"chat.completion.chunk","id":"5f1c7d2e-6a43-4b8e-9d0a-'
        b'3c2f1e0b9a87","model":"qwen3","choices":[{"index":0,"finish_reason":null,"delta":'
        b'{"role":"assistant","content":null}}]}',
        b'{"created":1733300000,"object":"chat.completion.chunk","id":"5f1c7d2e-6a43-4b8e-9d0a-'
        b'3c2f1e0b9a87","model":"qwen3","choices":[{"index":0,"finish_reason":null,"delta":'
        b'{"content":null,"reasoning":"Let me think."}}]}',
        b'{"created":1733300000,"object":"chat.completion.chunk","id":"5f1c7d2e-6a43-4b8e-9d0a-'
        b'3c2f1e0b9a87","model":"qwen3","choices":[{"index":0,"finish_reason":null,"delta":'
        b'{"content":"Hello"}}]}',
        (
            '{"created":1733300000,"object":"chat.completion.chunk","id":"5f1c7d2e-6a43-4b8e-9d0a-'
            '3c2f1e0b9a87","model":"qwen3","choices":[{"index":0,"finish_reason":null,"delta":'
            '{"content":", world \\u003cb\\u003e\u00e9\\n"}}]}'
        ).encode(),
        b'{"created":1733300000,"object":"chat.completion.chunk","id":"5f1c7d2e-6a43-4b8e-9d0a-'
        b'3c2f1e0b9a87","model":"qwen3","choices":[{"index":0,"finish_reason":"stop","delta":'
        b'{"content":null}}]}',
        b'{"created":1733300000,"object":"chat.completion.chunk","id":"5f1c7d2e-6a43-4b8e-9d0a-'
        b'3c2f1e0b9a87","model":"qwen3","choices":[],"usage":{"prompt_tokens":9,'
        b'"completion_tokens":0,"total_tokens":9}}',
        b"[DONE]",
    )
)

PLAIN = """
models:
  m:
    localai_model: qwen3
    capabilities: [chat]
"""
STAGED = PLAIN + "    stream: {max_output_chars: 100000, reasoning_aliases: []}\n"


def frames_for(registry: str, tmp_path: Path, usage: bool) -> bytes:
    path = tmp_path / f"registry-{len(registry)}.yaml"
    path.write_text(registry)
    settings = Settings(
        localai_url=LOCALAI,
        registry=path,
        http_transport="httpx",
        health_interval=0,
        _env_file=None,
    )
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    if usage:
        body["stream_options"] = {"include_usage": True}
    with respx.mock(base_url=LOCALAI) as localai:
        localai.post("/v1/chat/completions").respond(
            content=RECORDED, headers={"content-type": "text/event-stream"}
        )
        with TestClient(create_app(settings)) as client:
            reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    return reply.content


@pytest.fixture(params=[True, False], ids=["usage", "no-usage"])
def usage(request: pytest.FixtureRequest) -> Iterator[bool]:
    yield request.param


def test_both_relays_send_the_same_bytes(tmp_path: Path, usage: bool) -> None:
    plain = frames_for(PLAIN, tmp_path, usage)
    staged = frames_for(STAGED, tmp_path, usage)
    assert staged == plain
    events = [block[6:] for block in plain.split(b"\n\n") if block]
    chunks = [orjson.loads(data) for data in events[:-1]]
    assert events[-1] == b"[DONE]"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"content": None, "reasoning": "Let me think."}
    assert chunks[4]["choices"][0]["delta"] == {}
    assert all(chunk["model"] == "m" for chunk in chunks)
    if usage:  # three events carried text: the count stands in for the missing tokens
        assert chunks[-1]["usage"] == {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
        }
    else:
        assert all(chunk["choices"] for chunk in chunks)
