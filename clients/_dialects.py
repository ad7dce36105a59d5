"""The SSE dialects of LocalAI's streaming APIs: how each stream ends and reports a failure.

    OPENAI_EVENTS     chat completions: `data: {...}` events, `data: [DONE]`, errors as
                      `{"error": ...}` (research/localai.md §3)
    COMPLETION_EVENTS /v1/completions: the same, but a failure is a text chunk
                      `"Internal error: ..."` with `finish_reason: "stop"` and no `[DONE]`
    RESPONSES_EVENTS  Open Responses: `event:` + `data:` pairs, `{"type": "error", "error": ...}`
                      on failure, `data: [DONE]` at the end
    MESSAGES_EVENTS   Anthropic Messages: `event:` + `data:` pairs, `{"type": "error", ...}` on
                      failure, no `[DONE]`: the stream ends after `message_stop`

Named events carry their name as the `type` of their data (LocalAI writes `event: <type>`), so
only the data is kept; `event_type` reads the name back from it. Events a dialect calls
preamble (`message_start`, `response.created`, ...) come before any answer: `EventStream` holds
them back until the first answer event, so a failure before the answer still gets a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from ._errors import UpstreamProtocolError, UpstreamStreamError
from ._normalize import normalize_stream_error
from ._sse import DONE

_ERROR_EVENT = re.compile(rb"\s*\{\s*\"error\"\s*:")
_TYPE = re.compile(rb'\{\s*"type"\s*:\s*"([^"\\]+)"')
# LocalAI's completion failure (completion.go), once the stream has started.
_COMPLETION_ERROR = re.compile(
    rb'"finish_reason":"stop","text":"Internal error: ((?:[^"\\]|\\.)*)"'
)

Ending = Exception | bool | None
"""After a batch: True at the stream's normal end, an error to raise, None if it goes on."""


def event_type(data: bytes) -> bytes | None:
    """The `type` a named event's data starts with (its SSE event name), or None."""
    match = _TYPE.match(data)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class StreamDialect:
    """How one API's stream ends (at `[DONE]`, or after an event of type `last`), which events
    report a failure, and which come before the answer."""

    name: str
    named: bool = False  # errors are `{"type": "error", ...}` events (else `{"error": ...}`)
    last: bytes | None = None
    preamble: frozenset[bytes] = frozenset()
    text_errors: bool = False  # failures may come as an "Internal error: " text chunk

    def check(self, batch: list[bytes], model: str) -> tuple[list[bytes], Ending]:
        """Split a batch into the events to relay and how the stream ends after them."""
        named = self.named
        for index, data in enumerate(batch):
            if data == DONE:
                return batch[:index], True
            if data[:1] != b"{" or data[-1:] != b"}":
                message = f"model {model!r}: the upstream sent a malformed event"
                return batch[:index], UpstreamProtocolError(message, model=model)
            kind = event_type(data) if named else None
            if kind == b"error" if named else _ERROR_EVENT.match(data) is not None:
                return batch[:index], UpstreamStreamError(normalize_stream_error(data), model=model)
            if self.text_errors and (failure := _text_failure(data, model)) is not None:
                return batch[:index], failure
            if kind is not None and kind == self.last:
                return batch[: index + 1], True
        return batch, None

    @property
    def end(self) -> str:
        """What ends a complete stream, for messages: `[DONE]` or the last event's type."""
        return "[DONE]" if self.last is None else self.last.decode()

    def in_preamble(self, batch: list[bytes]) -> bool:
        """True when every event of `batch` (none, too) comes before the answer."""
        preamble = self.preamble
        return not batch or (bool(preamble) and all(event_type(d) in preamble for d in batch))


def _text_failure(data: bytes, model: str) -> UpstreamStreamError | None:
    """The failure a completion text chunk `"Internal error: ..."` reports, if it is one."""
    found = _COMPLETION_ERROR.search(data)
    if found is None:
        return None
    event = orjson.dumps({"error": {"message": orjson.loads(b'"' + found.group(1) + b'"')}})
    return UpstreamStreamError(normalize_stream_error(event), model=model)


OPENAI_EVENTS = StreamDialect("openai")
COMPLETION_EVENTS = StreamDialect("completions", text_errors=True)
RESPONSES_EVENTS = StreamDialect(
    "responses",
    named=True,
    preamble=frozenset(
        {
            b"response.created",
            b"response.in_progress",
            b"response.output_item.added",
            b"response.content_part.added",
        }
    ),
)
MESSAGES_EVENTS = StreamDialect(
    "messages",
    named=True,
    last=b"message_stop",
    preamble=frozenset({b"message_start", b"content_block_start", b"ping"}),
)
