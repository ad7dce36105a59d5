"""Stream dialects: how each LocalAI streaming API ends, fails, and what comes before its answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from clients import (
    COMPLETION_EVENTS,
    MESSAGES_EVENTS,
    OPENAI_EVENTS,
    RESPONSES_EVENTS,
    StreamDialect,
    Timeouts,
    UpstreamClient,
    UpstreamFirstTokenTimeout,
    UpstreamProtocolError,
    UpstreamStreamError,
    event_type,
)

START = b'{"type":"message_start","message":{"id":"msg_1","model":"m"}}'
BLOCK = b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
PING = b'{"type": "ping"}'  # LocalAI writes this one by hand, with a space
DELTA = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}'
STOP = b'{"type":"message_stop"}'
OVERFLOW = b"request (5000 tokens) exceeds the available context size (2048 tokens)"


def test_event_type_is_the_leading_type_member() -> None:
    assert event_type(START) == b"message_start"
    assert event_type(PING) == b"ping"
    assert event_type(b'{"id":"x","type":"late"}') is None
    assert event_type(b"[DONE]") is None


def test_messages_end_after_message_stop_and_keep_it() -> None:
    events, end = MESSAGES_EVENTS.check([DELTA, STOP, DELTA], "m")
    assert (events, end) == ([DELTA, STOP], True)
    assert MESSAGES_EVENTS.check([START, DELTA], "m") == ([START, DELTA], None)


@pytest.mark.parametrize("dialect", [MESSAGES_EVENTS, RESPONSES_EVENTS])
def test_a_named_error_event_is_a_stream_error_naming_a_request_fault(
    dialect: StreamDialect,
) -> None:
    error = (
        b'{"type":"error","error":{"type":"api_error","message":"inference: ' + OVERFLOW + b'"}}'
    )
    events, end = dialect.check([DELTA, error], "m")
    assert events == [DELTA]
    assert isinstance(end, UpstreamStreamError)
    assert end.error["code"] == "context_length_exceeded" and end.request_fault


def test_responses_end_at_done() -> None:
    created = b'{"type":"response.created","sequence_number":0}'
    assert RESPONSES_EVENTS.check([created, b"[DONE]"], "m") == ([created], True)


def test_openai_events_keep_their_rules() -> None:
    assert OPENAI_EVENTS.check([b'{"a":1}', b"[DONE]"], "m") == ([b'{"a":1}'], True)
    events, end = OPENAI_EVENTS.check([b'{"a":1}', b'{"error":{"message":"x"}}'], "m")
    assert events == [b'{"a":1}'] and isinstance(end, UpstreamStreamError)
    assert isinstance(OPENAI_EVENTS.check([b'{"a"'], "m")[1], UpstreamProtocolError)


def test_a_completion_failure_text_chunk_is_a_stream_error() -> None:
    token = b'{"object":"text_completion","choices":[{"index":0,"finish_reason":null,"text":"a"}]}'
    failed = (
        b'{"object":"text_completion","choices":[{"index":0,"finish_reason":"stop",'
        b'"text":"Internal error: rpc error: \\"boom\\""}]}'
    )
    events, end = COMPLETION_EVENTS.check([token, failed], "m")
    assert events == [token]
    assert isinstance(end, UpstreamStreamError)
    assert end.error["message"] == 'rpc error: "boom"' and not end.request_fault
    assert OPENAI_EVENTS.check([failed], "m") == ([failed], None), "only completions read it so"


def test_the_preamble_is_every_event_before_the_answer() -> None:
    assert MESSAGES_EVENTS.in_preamble([START, BLOCK, PING])
    assert not MESSAGES_EVENTS.in_preamble([START, DELTA])
    assert not OPENAI_EVENTS.in_preamble([b'{"a":1}'])
    responses = [  # LocalAI's, before the first token
        b'{"type":"response.created","sequence_number":0}',
        b'{"type":"response.in_progress","sequence_number":1}',
        b'{"type":"response.output_item.added","sequence_number":2}',
        b'{"type":"response.content_part.added","sequence_number":3}',
    ]
    assert RESPONSES_EVENTS.in_preamble(responses)
    assert not RESPONSES_EVENTS.in_preamble([b'{"type":"response.output_text.delta"}'])


class Paced(httpx.AsyncByteStream):
    """A body sent one chunk at a time, `pause` seconds apart."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0) -> None:
        self.chunks, self.pause = chunks, pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await asyncio.sleep(self.pause)
            yield chunk


def named(*events: bytes) -> list[bytes]:
    return [b"event: " + (event_type(e) or b"") + b"\ndata: " + e + b"\n\n" for e in events]


async def read(body: Paced, timeouts: Timeouts | None = None) -> list[list[bytes]]:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=body))
    async with UpstreamClient(transport=transport, timeouts=timeouts or Timeouts()) as client:
        stream = client.stream(
            "http://u", "/v1/messages", b"{}", model="m", dialect=MESSAGES_EVENTS
        )
        async with stream as events:
            return [batch async for batch in events]


async def test_the_preamble_is_held_back_until_the_first_answer_event() -> None:
    batches = await read(Paced(named(START, BLOCK, DELTA, STOP)))
    assert batches == [[START, BLOCK, DELTA], [STOP]]


async def test_a_preamble_then_a_normal_end_in_one_read_loses_nothing() -> None:
    batches = await read(Paced([b"".join(named(START)), b"".join(named(DELTA, STOP))]))
    assert batches == [[START, DELTA, STOP]]


async def test_a_failure_before_the_answer_raises_before_any_batch() -> None:
    error = b'{"type":"error","error":{"type":"api_error","message":"' + OVERFLOW + b'"}}'
    with pytest.raises(UpstreamStreamError) as info:
        await read(Paced(named(START, BLOCK, error)))
    assert info.value.request_fault


async def test_the_first_token_limit_runs_until_the_first_answer_event() -> None:
    limits = Timeouts(connect=1, first_token=0.2, idle=5, total=5)
    with pytest.raises(UpstreamFirstTokenTimeout):
        await read(Paced([*named(START), *named(PING), *named(DELTA, STOP)], 0.12), limits)


async def test_a_messages_stream_cut_before_message_stop_says_so() -> None:
    with pytest.raises(UpstreamProtocolError, match="before message_stop"):
        await read(Paced(named(START, DELTA)))


async def test_a_failure_read_with_the_preamble_raises_before_any_batch() -> None:
    error = b'{"type":"error","error":{"type":"api_error","message":"' + OVERFLOW + b'"}}'
    with pytest.raises(UpstreamStreamError):
        await read(Paced([b"".join(named(START, BLOCK, error))]))
