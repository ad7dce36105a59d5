"""Token usage, in one place: what the upstream reported, completion tokens counted when it did
not, and the one way both reach the request record.

Counting works on the raw event bytes, so both stream relays count alike without a parse:
LocalAI streams one token per event, so the events that carry text approximate the
completion tokens (low when an upstream batches several tokens into one event).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..observability.record import RequestRecord

# A delta member with text: `"content":"x..."` (not `""` and not null), or reasoning.
CHUNK_TEXT = re.compile(rb'"(?:content|reasoning_content|reasoning)"\s*:\s*"(?!")')
# An Anthropic Messages or Open Responses event that carries generated text (or tool input).
EVENT_TEXT = re.compile(
    rb'"type"\s*:\s*"(?:content_block_delta|response\.output_text\.delta'
    rb'|response\.reasoning_text\.delta|response\.function_call_arguments\.delta)"'
)
# Token counts in OpenAI's names, or in Anthropic's and Open Responses' (input/output).
_USAGE_MEMBER = re.compile(rb'"(prompt|completion|input|output)_tokens"\s*:\s*(\d+)')
_OPENAI_NAME = {
    b"prompt": "prompt",
    b"input": "prompt",
    b"completion": "completion",
    b"output": "completion",
}


class CompletionCount:
    """The number of upstream stream events that carried text (those `text` matches)."""

    __slots__ = ("_search", "events")

    def __init__(self, text: re.Pattern[bytes] = CHUNK_TEXT) -> None:
        self.events = 0
        self._search = text.search

    def add(self, batch: list[bytes]) -> None:
        """Count the text-carrying events of one batch."""
        search = self._search
        self.events += sum(1 for data in batch if search(data) is not None)

    def fill(self, trailer: dict[str, Any]) -> dict[str, Any]:
        """The usage trailer with `completion_tokens` counted here when the upstream gave none."""
        usage = trailer.get("usage")
        reported = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(usage, dict) and not reported and self.events > 0:
            prompt = usage.get("prompt_tokens")
            total = (prompt if isinstance(prompt, int) else 0) + self.events
            usage = {**usage, "completion_tokens": self.events, "total_tokens": total}
            return {**trailer, "usage": usage}
        return trailer

    def settle(self, record: RequestRecord | None, finished: bool) -> None:
        """At the end of a stream, however it ended: the completion tokens relayed. A finished
        stream keeps what the upstream reported (this count when it reported none); one cut
        short (the client left, the upstream failed) is charged at least this count, since
        a count reported at its start (Anthropic's `message_start`) is not the last word."""
        if record is None or not self.events:
            return
        reported = record.tokens_out
        if reported is None or (not finished and reported < self.events):
            record.tokens_out = self.events


def record_usage(record: RequestRecord | None, usage: Mapping[str, Any] | None) -> None:
    """Copy a `usage` object's token counts into the request record."""
    if record is None or not isinstance(usage, Mapping):
        return
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    record.tokens_in = prompt if isinstance(prompt, int) else record.tokens_in
    record.tokens_out = completion if isinstance(completion, int) else record.tokens_out


def record_reply_usage(record: RequestRecord | None, content: bytes) -> None:
    """Copy a whole reply's token counts into the request record (a scan, not a parse); the
    last count of each kind wins."""
    if record is None:
        return
    found = {_OPENAI_NAME[name]: int(value) for name, value in _USAGE_MEMBER.findall(content)}
    record_usage(record, {f"{name}_tokens": value for name, value in found.items()})


def record_event_usage(record: RequestRecord | None, events: bytes) -> None:
    """Copy the token counts some streamed events carry (Anthropic's `message_start` and
    `message_delta`, Open Responses' `response.completed`) into the request record."""
    if record is not None and b'_tokens"' in events:
        record_reply_usage(record, events)
