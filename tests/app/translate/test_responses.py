"""Open Responses to and from chat for the in-process backend (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import InvalidRequest
from app.translate.responses import ResponseEvents, chat_body, response

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_the_chat_body_has_instructions_items_limits_and_format() -> None:
    body = {
        "model": "m",
        "instructions": "Be brief",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": []},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "yo"}],
            },
            {"role": "developer", "content": [{"type": "input_text", "text": "and"}]},
        ],
        "max_output_tokens": 12,
        "top_p": 0.9,
        "text": {"format": {"type": "json_schema", "name": "a", "schema": SCHEMA, "strict": True}},
        "store": True,
        "metadata": {"k": "v"},
    }
    assert chat_body(body) == {
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "yo"},
            {"role": "developer", "content": "and"},
        ],
        "max_tokens": 12,
        "top_p": 0.9,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": SCHEMA, "strict": True},
        },
    }
    assert chat_body({"input": "hi"}) == {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input.0.content",
        ),
        ({"input": "hi", "background": True}, "background"),
        ({"input": "hi", "tools": [{"type": "function", "name": "f"}]}, "tools"),
    ],
)
def test_what_the_backend_cannot_do_is_refused(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        chat_body(body)
    assert info.value.param == param


def test_a_whole_response_cut_by_the_limit_is_incomplete() -> None:
    completion = {
        "choices": [{"message": {"content": "Hi"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2},
    }
    made = response(completion, {"input": "x", "max_output_tokens": 2}, "m")
    assert made["id"].startswith("resp_") and made["model"] == "m"
    assert (made["status"], made["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert made["output"][0]["content"][0]["text"] == "Hi"
    assert made["usage"]["total_tokens"] == 6 and made["store"] is False


def test_events_from_a_chat_stream_are_numbered_in_localai_order() -> None:
    events = ResponseEvents({"input": "x"}, "m")
    made = events.feed(chunk(None)) + events.feed(chunk("Hi")) + events.feed(chunk(" you", "stop"))
    made += events.feed({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    made += events.close()
    assert [event["type"] for event in made] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in made] == list(range(10))
    assert made[6]["text"] == "Hi you"
    done = made[-1]["response"]
    assert done["status"] == "completed" and done["usage"]["output_tokens"] == 2
    assert done["id"] == made[0]["response"]["id"]
    assert made[4]["item_id"] == made[2]["item"]["id"] == done["output"][0]["id"]
