"""Token usage: text events counted per API, and what a stream is charged however it ends."""

from __future__ import annotations

import pytest

from app.observability.record import RequestRecord
from app.relay.usage import EVENT_TEXT, CompletionCount

CHAT_EVENTS = [
    b'{"choices":[{"delta":{"role":"assistant","content":""}}]}',
    b'{"choices":[{"delta":{"content":"Hel"}}]}',
    b'{"choices":[{"delta":{"reasoning_content":"hm"}}]}',
    b'{"choices":[{"delta":{"content":null},"finish_reason":"stop"}]}',
]
MESSAGES_EVENTS = [
    b'{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":0}}}',
    b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}',
    b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}',
    b'{"type":"message_stop"}',
]
RESPONSES_EVENTS = [
    b'{"type":"response.created","response":{"id":"resp_1"}}',
    b'{"type":"response.output_text.delta","delta":"Hel"}',
    b'{"type":"response.function_call_arguments.delta","delta":"{\\"a\\""}',
    b'{"type":"response.output_text.done","text":"Hel"}',
]


@pytest.mark.parametrize(
    ("counted", "events"),
    [
        (CompletionCount(), CHAT_EVENTS),
        (CompletionCount(EVENT_TEXT), MESSAGES_EVENTS),
        (CompletionCount(EVENT_TEXT), RESPONSES_EVENTS),
    ],
)
def test_only_the_events_that_carry_text_are_counted(
    counted: CompletionCount, events: list[bytes]
) -> None:
    counted.add(events)
    assert counted.events == 2


def record_with(tokens_out: int | None) -> RequestRecord:
    record = RequestRecord(request_id="r1", method="POST", path="/v1/messages")
    record.tokens_out = tokens_out
    return record


@pytest.mark.parametrize(
    ("reported", "finished", "charged"),
    [
        (None, True, 5),  # nothing reported: the count
        (7, True, 7),  # a finished stream keeps what the upstream reported
        (3, True, 3),
        (None, False, 5),  # the client left before any report
        (0, False, 5),  # message_start's 0 is not the last word
        (9, False, 9),  # a report larger than the count stands
    ],
)
def test_what_a_stream_is_charged(reported: int | None, finished: bool, charged: int) -> None:
    counted = CompletionCount(EVENT_TEXT)
    counted.events = 5
    record = record_with(reported)
    counted.settle(record, finished)
    assert record.tokens_out == charged
