"""Completions, Responses, Messages and tokenize against the embedded default (SmolLM2 in-process,
Responses and Messages translated to and from its chat path), through the official SDKs."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from openai import OpenAI

from tests.clients.llamacpp.conftest import requires_smollm2

pytestmark = [pytest.mark.integration, pytest.mark.legacy, requires_smollm2]

MODEL = "smollm2-135m-instruct"
HELLO = [{"role": "user", "content": "Say hello."}]
TOO_LONG = [{"role": "user", "content": "word " * 3000}]  # n_ctx is 2048


@pytest.fixture
def sdk(embedded_gateway: str) -> OpenAI:
    return OpenAI(base_url=f"{embedded_gateway}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture
def claude(embedded_gateway: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=embedded_gateway, api_key="unused", max_retries=0, timeout=60
    ) as client:
        yield client


def test_completions_continue_the_prompt(sdk: OpenAI) -> None:
    reply = sdk.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=4, temperature=0
    )
    assert reply.model == MODEL and reply.choices[0].text
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    chunks = list(
        sdk.completions.create(
            model=MODEL,
            prompt="The capital of France is",
            max_tokens=4,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].text for c in chunks if c.choices)
    assert streamed == reply.choices[0].text, "streamed token by token, the same text"
    assert chunks[-1].usage is not None and chunks[-1].object == "text_completion"


def test_responses_translated_from_chat(sdk: OpenAI) -> None:
    reply = sdk.responses.create(
        model=MODEL,
        instructions="Answer in one word.",
        input=[
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again."},
        ],
        max_output_tokens=8,
        temperature=0,
    )
    assert reply.model == MODEL and reply.output_text
    assert reply.status in ("completed", "incomplete")
    assert reply.usage is not None and reply.usage.input_tokens > 10
    with pytest.raises(openai.NotFoundError, match="in-process"):
        sdk.responses.retrieve(reply.id)


def test_responses_stream(sdk: OpenAI) -> None:
    events = list(
        sdk.responses.create(
            model=MODEL, input="Say hello.", stream=True, max_output_tokens=8, temperature=0
        )
    )
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    final = events[-1]
    assert final.type == "response.incomplete", "cut by max_output_tokens, as OpenAI says"
    assert len(deltas) > 2 and "".join(deltas) == final.response.output_text
    assert final.response.model == MODEL
    assert final.response.usage is not None and final.response.usage.output_tokens == 8


def test_messages_translated_from_chat(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(
        model=MODEL, max_tokens=8, system="Be brief.", messages=HELLO, extra_body={"top_k": 1}
    )
    assert reply.model == MODEL and reply.content[0].type == "text" and reply.content[0].text
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 5 and reply.usage.output_tokens > 0


def test_messages_stream(claude: anthropic.Anthropic) -> None:
    greedy = {"top_k": 1}
    with claude.messages.stream(
        model=MODEL, max_tokens=8, messages=HELLO, extra_body=greedy
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 2 and "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 8


def test_count_tokens_and_tokenize_use_the_model_tokenizer(
    claude: anthropic.Anthropic, embedded_gateway: str
) -> None:
    counted = claude.messages.count_tokens(model=MODEL, messages=HELLO)
    tokens = httpx.post(
        f"{embedded_gateway}/v1/tokenize", json={"model": MODEL, "content": "Say hello."}
    )
    assert counted.input_tokens == len(tokens.json()["tokens"]) > 1
    text = httpx.post(f"{embedded_gateway}/v1/detokenize", json={"model": MODEL, **tokens.json()})
    assert text.json() == {"content": "Say hello."}


def test_requests_without_model_use_the_embedded_defaults(embedded_gateway: str) -> None:
    chat = httpx.post(
        f"{embedded_gateway}/v1/chat/completions",
        json={"messages": HELLO, "max_tokens": 2},
        timeout=60,
    )
    assert chat.json()["model"] == MODEL
    vectors = httpx.post(f"{embedded_gateway}/v1/embeddings", json={"input": "a cat"}, timeout=60)
    assert vectors.json()["model"] == "smollm2-135m-embed"


def test_tools_need_the_capability(sdk: OpenAI, claude: anthropic.Anthropic) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="'tools'"):
        sdk.chat.completions.create(model=MODEL, messages=HELLO, tools=[tool])  # type: ignore[list-item]
    with pytest.raises(anthropic.BadRequestError, match="'tools'"):
        claude.messages.create(
            model=MODEL, max_tokens=4, messages=HELLO, tools=[{"name": "f", "input_schema": {}}]
        )


@pytest.mark.parametrize("stream", [False, True])
def test_context_overflow_is_counted_before_generating(
    sdk: OpenAI, claude: anthropic.Anthropic, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        reply = sdk.chat.completions.create(model=MODEL, messages=TOO_LONG, stream=stream)
        list(reply) if stream else None  # type: ignore[call-overload]
    assert info.value.code == "context_length_exceeded"
    with pytest.raises(anthropic.BadRequestError, match="exceed context window"):
        claude.messages.create(model=MODEL, max_tokens=4, messages=TOO_LONG, stream=stream)
