"""Completions, Responses, Messages and tokenize through the gateway process to a fake LocalAI
process, driven by the official `openai` and `anthropic` SDKs: relayed natively, model ids
rewritten both ways (the fake sees LocalAI's name), streams included."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.servers import FakeLocalAI

pytestmark = pytest.mark.integration

MODEL = "qwen3-30b-a3b-q4-k-m"
LOCALAI_NAME = "qwen3-30b-instruct:q4_k_m"
OVERFLOW = "request (5000 tokens) exceeds the available context size (2048 tokens)"
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def claude(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway_url, api_key="sk-test", max_retries=0, timeout=20
    ) as client:
        yield client


def sent_model(fake: FakeLocalAI, path: str) -> str:
    model: str = fake.requests(path)[-1]["json"]["model"]
    return model


# /v1/completions


def test_completions(sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    reply = sdk.completions.create(model=MODEL, prompt="hello there", max_tokens=3)
    assert reply.model == MODEL and reply.choices[0].text == "mocked completion of:"
    assert sent_model(fake_localai, "/v1/completions") == LOCALAI_NAME


def test_completions_stream_with_usage(sdk: OpenAI, fake_localai: FakeLocalAI) -> None:
    chunks = list(
        sdk.completions.create(
            model=MODEL, prompt="hi", stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "mocked completion of: hi"
    assert {c.model for c in chunks} == {MODEL}
    assert chunks[-1].object == "text_completion" and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_completions_failure_mid_stream_reaches_the_sdk(sdk: OpenAI) -> None:
    with pytest.raises(openai.APIError, match="simulated failure"):
        list(sdk.completions.create(model=MODEL, prompt="MOCK_ERROR_MIDSTREAM", stream=True))


# /v1/responses


def test_responses_create_retrieve_cancel_and_continue(
    sdk: OpenAI, fake_localai: FakeLocalAI
) -> None:
    first = sdk.responses.create(model=MODEL, input="hello there", instructions="Be brief")
    assert first.model == MODEL and first.output_text == "mocked response to: hello there"
    assert first.usage is not None and first.usage.output_tokens == 5
    assert sent_model(fake_localai, "/v1/responses") == LOCALAI_NAME
    assert sdk.responses.retrieve(first.id).output_text == first.output_text
    assert sdk.responses.cancel(first.id).id == first.id
    second = sdk.responses.create(model=MODEL, input="and more", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.id != first.id
    assert not fake_localai.requests("/v1/responses")[-1]["json"][
        "previous_response_id"
    ].startswith(first.id), "LocalAI gets its own id back"


def test_responses_stream(sdk: OpenAI) -> None:
    events = list(sdk.responses.create(model=MODEL, input="hello there", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "mocked response to: hello there"
    assert events[-1].response.model == MODEL
    assert sdk.responses.retrieve(events[-1].response.id).status == "completed"


def test_responses_stream_helper(sdk: OpenAI) -> None:
    with sdk.responses.stream(model=MODEL, input="hello there") as stream:
        final = stream.get_final_response()
    assert final.output_text == "mocked response to: hello there" and final.model == MODEL


def test_responses_failure_mid_stream_reaches_the_sdk(sdk: OpenAI) -> None:
    with pytest.raises(openai.APIError, match="simulated failure"):
        list(sdk.responses.create(model=MODEL, input="MOCK_ERROR_MIDSTREAM", stream=True))


# /v1/messages


def test_messages(claude: anthropic.Anthropic, fake_localai: FakeLocalAI) -> None:
    reply = claude.messages.create(model=MODEL, max_tokens=64, system="Be brief", messages=HELLO)
    assert reply.model == MODEL and reply.content[0].type == "text"
    assert reply.content[0].text == "mocked response to: hello there"
    assert sent_model(fake_localai, "/v1/messages") == LOCALAI_NAME


def test_messages_stream(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "mocked response to: hello there"
    assert final.model == MODEL and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5


def test_messages_cut_by_max_tokens_say_so(claude: anthropic.Anthropic) -> None:
    """LocalAI says `end_turn` here (the fake too); the gateway says what Anthropic would."""
    reply = claude.messages.create(model=MODEL, max_tokens=3, messages=HELLO)
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 3
    with claude.messages.stream(model=MODEL, max_tokens=3, messages=HELLO) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"


def test_messages_failure_mid_stream_reaches_the_sdk(claude: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": "MOCK_ERROR_MIDSTREAM"}]
    with pytest.raises(anthropic.APIStatusError, match="simulated failure"):
        list(claude.messages.create(model=MODEL, max_tokens=64, messages=messages, stream=True))


def test_messages_errors_are_anthropic_exceptions(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="nope", max_tokens=8, messages=HELLO)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    tool = {"name": "f", "input_schema": {"type": "object"}}
    with pytest.raises(anthropic.BadRequestError, match="'tools'"):
        claude.messages.create(model="qwen25-vl", max_tokens=8, messages=HELLO, tools=[tool])


def test_count_tokens(claude: anthropic.Anthropic, fake_localai: FakeLocalAI) -> None:
    counted = claude.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    assert counted.input_tokens == 2, "the fake tokenizes one token per character"
    assert sent_model(fake_localai, "/v1/tokenize") == LOCALAI_NAME


# /v1/tokenize, /v1/detokenize


def test_tokenize_round_trips(gateway_url: str, fake_localai: FakeLocalAI) -> None:
    tokens = httpx.post(f"{gateway_url}/v1/tokenize", json={"model": MODEL, "content": "hey"})
    assert tokens.json() == {"tokens": [104, 101, 121]}
    text = httpx.post(f"{gateway_url}/v1/detokenize", json={"model": MODEL, **tokens.json()})
    assert text.json() == {"content": "hey"}
    assert sent_model(fake_localai, "/v1/detokenize") == LOCALAI_NAME


# Defaults and honest errors


def test_a_request_without_model_uses_the_default(gateway_url: str) -> None:
    reply = httpx.post(f"{gateway_url}/v1/chat/completions", json={"messages": HELLO})
    assert reply.status_code == 200 and reply.json()["model"] == MODEL
    embedded = httpx.post(f"{gateway_url}/v1/embeddings", json={"input": "a cat"})
    assert embedded.json()["model"] == "qwen3-embedding"


def test_tools_to_a_model_without_them_are_a_400(sdk: OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="'tools'") as info:
        sdk.chat.completions.create(model="qwen25-vl", messages=HELLO, tools=[tool])  # type: ignore[list-item]
    assert info.value.code == "model_capability_not_supported"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_localai_context_overflow_is_a_400(
    sdk: OpenAI, claude: anthropic.Anthropic, fake_localai: FakeLocalAI, path: str
) -> None:
    fault = {"path": path, "status": 500, "message": f"rpc error: {OVERFLOW}"}
    if path == "/v1/messages":
        fault["body"] = {"type": "error", "error": {"type": "api_error", "message": OVERFLOW}}
        fake_localai.set_faults(fault)
        with pytest.raises(anthropic.BadRequestError, match="context size"):
            claude.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
        return
    fake_localai.set_faults(fault)
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert info.value.code == "context_length_exceeded"


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}


def test_an_answer_cut_by_max_tokens_under_a_schema_is_passed_through(sdk: OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=2,
        response_format=JSON_SCHEMA,  # type: ignore[arg-type]
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == "mocked response"


def test_a_streamed_answer_that_breaks_the_schema_ends_with_an_error_event(sdk: OpenAI) -> None:
    received = []
    with pytest.raises(openai.APIError, match="not JSON") as info:
        for chunk in sdk.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            stream=True,
            response_format=JSON_SCHEMA,  # type: ignore[arg-type]
        ):
            received.append(chunk)
    assert info.value.code == "upstream_schema_violation"
    assert received[-1].choices[0].finish_reason == "stop", "the whole answer came first"


def test_responses_failure_before_the_answer_is_an_error_status(sdk: OpenAI) -> None:
    """LocalAI sends response.created, the item and its part before failing: still a 502."""
    with pytest.raises(openai.InternalServerError, match="simulated failure"):
        sdk.responses.create(model=MODEL, input="MOCK_ERROR_IMMEDIATE", stream=True)
