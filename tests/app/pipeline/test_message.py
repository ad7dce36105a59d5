"""Non-streaming reasoning split on `message`: same rules as the stream."""

import copy

from app.pipeline import RequestOptions, StreamConfig, split_reasoning_message

THINK = StreamConfig(reasoning="think")


def response(**message: object) -> dict[str, object]:
    return {
        "id": "3f2b",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message}}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


def message_of(body: dict[str, object]) -> object:
    return body["choices"][0]["message"]  # type: ignore[index]


def test_think_block_is_split_without_touching_the_input() -> None:
    original = response(content="<think>why</think>\n\nBecause.")
    before = copy.deepcopy(original)
    out = split_reasoning_message(original, THINK, RequestOptions())
    assert message_of(out) == {
        "role": "assistant",
        "content": "\n\nBecause.",
        "reasoning_content": "why",
        "reasoning": "why",
    }
    assert original == before
    assert out["usage"] == before["usage"]


def test_unclosed_and_preopened_think() -> None:
    out = split_reasoning_message(response(content="<think>never closed"), THINK, RequestOptions())
    assert message_of(out)["content"] == ""  # type: ignore[index]
    preopened = StreamConfig(reasoning="think", think_preopened=True, reasoning_aliases=())
    out = split_reasoning_message(response(content="hmm</think>ok"), preopened, RequestOptions())
    assert message_of(out) == {"role": "assistant", "content": "ok", "reasoning_content": "hmm"}


def test_harmony_message() -> None:
    config = StreamConfig(reasoning="harmony", reasoning_aliases=())
    text = "<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>final<|message|>b"
    out = split_reasoning_message(response(content=text), config, RequestOptions())
    assert message_of(out) == {"role": "assistant", "content": "b", "reasoning_content": "a"}


def test_native_reasoning_is_mapped_or_dropped() -> None:
    original = response(content="ok", reasoning="plan")
    out = split_reasoning_message(original, THINK, RequestOptions())
    assert message_of(out) == {
        "role": "assistant",
        "content": "ok",
        "reasoning_content": "plan",
        "reasoning": "plan",
    }
    dropped = split_reasoning_message(
        original, StreamConfig(), RequestOptions(include_reasoning=False)
    )
    assert message_of(dropped) == {"role": "assistant", "content": "ok"}


def test_include_reasoning_false_drops_split_reasoning() -> None:
    out = split_reasoning_message(
        response(content="<think>x</think>y"), THINK, RequestOptions(include_reasoning=False)
    )
    assert message_of(out) == {"role": "assistant", "content": "y"}


def test_tool_call_message_without_content() -> None:
    calls = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    out = split_reasoning_message(response(content=None, tool_calls=calls), THINK, RequestOptions())
    assert message_of(out) == {"role": "assistant", "content": None, "tool_calls": calls}


def test_nothing_configured_returns_the_same_object() -> None:
    original = response(content="<think>x</think>y", reasoning="r")
    assert split_reasoning_message(original, None, RequestOptions()) is original
    assert split_reasoning_message(original, StreamConfig(), RequestOptions()) is original
