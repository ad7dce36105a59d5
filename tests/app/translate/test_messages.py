"""Anthropic Messages to and from chat for the in-process backend (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import InvalidRequest
from app.translate.messages import MessageEvents, chat_body, message, text_of

HELLO = [{"role": "user", "content": "hello"}]


def chunk(text: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def test_the_chat_body_has_system_turns_limits_and_sampling() -> None:
    body = {
        "model": "m",
        "max_tokens": 9,
        "system": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief"}],
        "messages": [
            *HELLO,
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "hi"}],
            },
            {"role": "user", "content": [{"type": "text", "text": "more", "cache_control": {}}]},
        ],
        "temperature": 0.2,
        "top_k": 5,
        "stop_sequences": ["\n\n"],
        "metadata": {"user_id": "u"},
        "stream": True,
    }
    assert chat_body(body) == {
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "more"},
        ],
        "max_tokens": 9,
        "temperature": 0.2,
        "top_k": 5,
        "stop": ["\n\n"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
            "messages.0.content",
        ),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"messages": HELLO, "tools": [{"name": "f"}]}, "tools"),
    ],
)
def test_what_the_backend_cannot_do_is_refused(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        chat_body({"max_tokens": 4, **body})
    assert info.value.param == param


def test_a_whole_message_from_a_chat_completion() -> None:
    completion = {
        "choices": [
            {"message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "length"}
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
    reply = message(completion, "m")
    assert reply["id"].startswith("msg_")
    assert reply | {"id": "x"} == {
        "id": "x",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "Hi!"}],
        "model": "m",
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }


def test_events_from_a_chat_stream() -> None:
    events = MessageEvents("m")
    made = events.feed(chunk(None, role="assistant"))
    made += events.feed(chunk("Hel")) + events.feed(chunk("lo")) + events.feed(chunk(None, "stop"))
    made += events.feed({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
    made += events.close()
    assert [event["type"] for event in made] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [e["delta"]["text"] for e in made if e["type"] == "content_block_delta"] == ["Hel", "lo"]
    assert made[0]["message"]["model"] == "m" and list(made[0]) == ["type", "message"]
    assert made[-2]["delta"]["stop_reason"] == "end_turn"
    assert made[-2]["usage"] == {"input_tokens": 5, "output_tokens": 2}


def test_an_empty_stream_still_opens_and_closes_the_message() -> None:
    assert [e["type"] for e in MessageEvents("m").close()] == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_count_tokens_text_has_system_turns_and_tools() -> None:
    body = {
        "system": "S",
        "messages": [
            *HELLO,
            {"role": "user", "content": [{"type": "tool_result", "content": "r"}]},
        ],
        "tools": [{"name": "f"}],
    }
    assert text_of(body) == 'S\nhello\n{"type":"tool_result","content":"r"}\n{"name":"f"}'
