"""The gateway under uvicorn, a fake LocalAI process, and the official openai SDK as the client."""

from __future__ import annotations

import time

import openai
import pytest
from openai import OpenAI

from tests.support.servers import FakeLocalAI

pytestmark = pytest.mark.integration

CHAT_MODEL = "qwen3-30b-a3b-q4-k-m"
HELLO = [{"role": "user", "content": "hello there"}]


def test_chat(sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    reply = sdk.chat.completions.create(
        model=CHAT_MODEL, messages=HELLO, extra_body={"top_k": 5, "grammar": 'root ::= "x"'}
    )
    assert reply.model == CHAT_MODEL
    assert reply.choices[0].message.content == "mocked response to: hello there"
    sent = fake_localai.requests("/v1/chat/completions")[-1]["json"]
    assert sent["model"] == "qwen3-30b-instruct:q4_k_m"
    assert sent["top_k"] == 5 and sent["grammar"] == 'root ::= "x"'
    assert sent["max_tokens"] == 1024, "the registry default is applied"


def test_stream_chunks_arrive_one_by_one(sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    fake_localai.set_faults({"path": "/v1/chat/completions", "slow_events_ms": 150})
    arrivals, words = [], []
    for chunk in sdk.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True):
        assert chunk.model == CHAT_MODEL
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            words.append(chunk.choices[0].delta.content)
    assert "".join(words) == "mocked response to: hello there"
    assert len(words) >= 4
    # The upstream paces events 150 ms apart: relayed without buffering they arrive spread out.
    assert arrivals[-1] - arrivals[0] >= 0.15 * (len(words) - 2)


def test_stream_usage_is_passed_when_asked(sdk: OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model=CHAT_MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert chunks[-1].model == CHAT_MODEL


def test_mid_stream_error_reaches_the_sdk(sdk: OpenAI) -> None:
    messages = [{"role": "user", "content": "MOCK_ERROR_MIDSTREAM"}]
    received = []
    with pytest.raises(openai.APIError, match="simulated failure"):
        for chunk in sdk.chat.completions.create(model=CHAT_MODEL, messages=messages, stream=True):
            received.append(chunk)
    assert received, "content before the error was relayed"


def test_embeddings(sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    result = sdk.embeddings.create(model="qwen3-embedding", input=["a cat", "a dog"])
    assert result.model == "qwen3-embedding"
    assert [item.index for item in result.data] == [0, 1]
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.total_tokens > 0
    assert fake_localai.requests("/v1/embeddings")[-1]["json"]["model"] == "text-embedding-ada-002"


def test_models(sdk: OpenAI) -> None:
    ids = [model.id for model in sdk.models.list()]
    assert ids == [
        "qwen3-30b-a3b-q4-k-m",
        "openai-gpt-oss-20b",
        "qwen3-embedding",
        "flux-1-dev",
        "qwen25-vl",
        "whisper-1",
        "tts-1",
        "jina-reranker",
    ]
    assert sdk.models.retrieve("qwen3-30b").id == CHAT_MODEL  # alias


def test_unknown_model_is_not_found(sdk: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        sdk.chat.completions.create(model="no-such-model", messages=HELLO)
    assert info.value.code == "model_not_found"


def test_capability_mismatch_is_bad_request(sdk: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="'chat'"):
        sdk.chat.completions.create(model="qwen3-embedding", messages=HELLO)


def test_upstream_error_is_relayed(sdk: OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "MOCK_ERROR"}]
        )


def test_client_disconnect_closes_the_upstream(sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    fake_localai.set_faults({"path": "/v1/chat/completions", "stall_after_events": 2})
    stream = sdk.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True)
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 5
    while fake_localai.stats()["disconnected"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = fake_localai.stats()
    assert stats["disconnected"] >= 1
    assert stats["active_streams"] == 0


def test_streamed_reasoning_content_from_think_tags(sdk: OpenAI) -> None:
    messages = [{"role": "user", "content": "MOCK_THINK_TAGS"}]
    reasoning, content = [], []
    for chunk in sdk.chat.completions.create(model=CHAT_MODEL, messages=messages, stream=True):
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is not None:
            reasoning.append(getattr(delta, "reasoning_content", None) or "")
            content.append(delta.content or "")
    assert "".join(reasoning) == "thinking"
    assert "".join(content) == "answer"
